# sealbuild's QEMU build VM: fetches and builds its parts, starts its vTPM,
# boots it. Source it (after scripts/lib.sh) with ROOT set; do not run it.
# See qemu/README.md for what the VM is and how it is measured.
# shellcheck shell=bash
# shellcheck disable=SC2034  # variables for the scripts that source it

VM_CACHE=${SEALBUILD_VM_CACHE:-$ROOT/target/qemu-vm}
VM_OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.fd
VM_OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd
# The kernel command line the reference values are computed for.
VM_APPEND="console=ttyS0 panic=-1 loglevel=4"
# The one name the guest uses for the verifier (mapped to the host,
# 10.0.2.2, in the guest's /etc/hosts; a DNS name of the verifier's
# generated TLS certificate).
VM_VERIFIER_NAME=verifier.sealbuild.invalid
# Files of the host put into the guest, for its build (tcc, make, git, libc
# headers and start files) besides busybox and the agent.
VM_GUEST_TOOLS=(/usr/bin/tcc /usr/bin/make /usr/bin/git)

# Installs what the VM needs, or fails naming it: never skips.
ensure_vm_packages() {
  local SEALBUILD_DEBIAN_PACKAGES=(qemu-system-x86 ovmf swtpm swtpm-tools busybox-static cpio tcc make git libc6-dev gnutls-bin)
  local SEALBUILD_APT_OPTIONS=(--no-install-recommends)
  ensure_debian_packages
  local f
  for f in qemu-system-x86_64 swtpm swtpm_setup busybox cpio tcc make git; do
    command -v "$f" >/dev/null || die "the QEMU VM needs '$f', which is not installed"
  done
  for f in "$VM_OVMF_CODE" "$VM_OVMF_VARS"; do
    [[ -f $f ]] || die "the QEMU VM needs $f (Debian package ovmf)"
  done
}

# Debian's linux-image-amd64 kernel, cached in $VM_CACHE/kernel/: vmlinuz
# (the EFI-stub bzImage), the modules the guest loads (e1000: network;
# qemu_fw_cfg: the run's settings) and the version. Prints the directory.
vm_kernel() {
  local dir=$VM_CACHE/kernel
  if [[ -s $dir/vmlinuz && -s $dir/version ]]; then
    echo "$dir"; return 0
  fi
  local pkg tmp
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -1)
  [[ -n $pkg ]] || { apt-get update -qq >/dev/null 2>&1 || true
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -1); }
  [[ -n $pkg ]] || die "cannot resolve Debian's linux-image-amd64 (apt-cache depends linux-image-amd64)"
  say "downloading the VM kernel: Debian's $pkg (once; cached in $dir)"
  tmp=$(mktemp -d)
  (cd "$tmp" && chmod 777 . && apt-get download -q "$pkg" >/dev/null 2>&1) \
    || { rm -rf "$tmp"; die "apt-get download $pkg failed"; }
  local kver=${pkg#linux-image-}
  dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp" ./boot \
    "./lib/modules/$kver/kernel/drivers/net/ethernet/intel/e1000/e1000.ko" \
    "./lib/modules/$kver/kernel/drivers/firmware/qemu_fw_cfg.ko" \
    || { rm -rf "$tmp"; die "$pkg: no vmlinuz or modules in the package"; }
  mkdir -p "$dir.new/modules"
  cp "$tmp/boot/vmlinuz-$kver" "$dir.new/vmlinuz"
  cp "$tmp/boot/config-$kver" "$dir.new/config"
  find "$tmp/lib/modules" -name '*.ko' -exec cp {} "$dir.new/modules/" \;
  echo "$kver" >"$dir.new/version"
  rm -rf "$tmp" "$dir"; mv "$dir.new" "$dir"
  echo "    $(du -h "$dir/vmlinuz" | cut -f1) vmlinuz $kver" >&2
  echo "$dir"
}

# Copies executable or library $1 into the tree $2 at its path (resolving
# symlinks, keeping the name the loader looks for), with the libraries ldd
# lists and the loader.
vm_copy_with_libs() {
  local f=$1 root=$2 lib
  vm_copy_file "$f" "$root"
  while read -r lib; do
    [[ -n $lib ]] && vm_copy_file "$lib" "$root"
  done < <(ldd "$f" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p')
}

# Copies file $1 into $2 at the same path, /lib* mapped to /usr/lib* (the
# initramfs is merged-/usr like Debian 12).
vm_copy_file() {
  local src=$1 root=$2 dst
  dst=$src
  case $dst in /lib/* | /lib64/* | /bin/* | /sbin/*) dst=/usr$dst ;; esac
  [[ -e $root$dst ]] && return 0
  mkdir -p "$root$(dirname "$dst")"
  cp -L "$src" "$root$dst"
}

# The initramfs for agent binary $1, cached by the digest of everything in
# it: prints its path. Built with busybox-static, the agent and its
# libraries (with the dlopen'ed TCTI), the guest's /init, the sample source
# (a git checkout with a fixed commit) and tcc/make/git for its build.
vm_initramfs() {
  local agent=$1 kdir
  kdir=$(vm_kernel)
  local key
  key=$( {
    sha256sum "$agent" "$ROOT/qemu/guest/init" "$ROOT/qemu/vm.sh" "$ROOT"/samples/hello/* "$kdir"/modules/*.ko
    dpkg-query -W busybox-static tcc make git libc6 libc6-dev libtss2-tcti-device0 libtss2-esys-3.0.2-0 2>/dev/null
  } | sha256sum | cut -c1-16)
  local out=$VM_CACHE/initramfs-$key.cpio.gz
  if [[ -s $out ]]; then
    echo "$out"; return 0
  fi
  say "building the VM's initramfs (once for this agent build; cached as $out)"
  local root
  root=$(mktemp -d)
  mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib,usr/lib64,proc,sys,dev,tmp,run,root,etc,src,var/lib,lib/modules/sealbuild}
  ln -s usr/bin "$root/bin"; ln -s usr/sbin "$root/sbin"
  ln -s usr/lib64 "$root/lib64"
  # /lib must stay a directory for the modules; its x86_64 libraries live
  # in /usr/lib (merged-/usr).
  ln -s ../usr/lib/x86_64-linux-gnu "$root/lib/x86_64-linux-gnu"
  # busybox and its applets
  cp /bin/busybox "$root/usr/bin/busybox"
  local a
  for a in $(/bin/busybox --list); do
    [[ $a == busybox || -e $root/usr/bin/$a ]] || ln -s busybox "$root/usr/bin/$a"
  done
  # the agent, its libraries, the dlopen'ed device TCTI
  vm_copy_with_libs "$agent" "$root"
  mv "$root$agent" "$root/usr/bin/sealbuild-agent"
  rmdir -p --ignore-fail-on-non-empty "$(dirname "$root$agent")" 2>/dev/null || true
  local tcti
  tcti=$(ldconfig -p | sed -n 's/.*libtss2-tcti-device.so.0 .*=> \(.*\)$/\1/p' | head -1)
  [[ -n $tcti ]] || die "libtss2-tcti-device.so.0 not found (Debian package libtss2-tcti-device0)"
  vm_copy_with_libs "$tcti" "$root"
  # the build's tools: tcc (with its runtime and headers), make, git
  for a in "${VM_GUEST_TOOLS[@]}"; do vm_copy_with_libs "$a" "$root"; done
  local f
  while read -r f; do
    [[ -f $f ]] && vm_copy_file "$f" "$root"
  done < <(dpkg -L tcc libc6-dev | grep -E '^/usr/(include|lib/x86_64-linux-gnu)/' | grep -vE '\.a$|/tcc/i386' ; \
           dpkg -L tcc | grep -E 'libtcc1\.a$' | grep -v i386; \
           dpkg -L libc6-dev | grep -E '/libc_nonshared\.a$')
  # libc.so is a linker script naming the shared libc: keep that; tcc looks
  # for the loader libc.so.6 names in the library directory.
  cp /usr/lib/x86_64-linux-gnu/libc.so "$root/usr/lib/x86_64-linux-gnu/libc.so"
  cp -L /lib64/ld-linux-x86-64.so.2 "$root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
  # kernel modules, init, settings
  cp "$kdir"/modules/*.ko "$root/lib/modules/sealbuild/"
  cp "$ROOT/qemu/guest/init" "$root/init"; chmod 755 "$root/init"
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\n' >"$root/etc/group"
  printf 'hosts: files\n' >"$root/etc/nsswitch.conf"
  printf '127.0.0.1 localhost\n' >"$root/etc/hosts"
  ldconfig -r "$root" 2>/dev/null || true
  # the sample project: one commit with fixed names and dates
  mkdir -p "$root/src/hello"
  cp "$ROOT/samples/hello/hello.c" "$ROOT/samples/hello/Makefile" "$root/src/hello/"
  printf 'out/\n' >"$root/src/hello/.gitignore"
  vm_git_commit "$root/src/hello"
  (cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 --reproducible) \
    | gzip -n -6 >"$out.tmp"
  mv "$out.tmp" "$out"
  rm -rf "$root"
  # Keep the three newest initramfs images (names without spaces).
  # shellcheck disable=SC2012
  ls -t "$VM_CACHE"/initramfs-*.cpio.gz 2>/dev/null | tail -n +4 | xargs -r rm -f
  echo "    $(du -h "$out" | cut -f1) initramfs" >&2
  echo "$out"
}

# Makes $1 a git checkout with one commit of its files, with fixed identity
# and dates so that the commit id depends on the files only.
vm_git_commit() {
  local id=(-c user.name=sealbuild-demo -c user.email=demo@sealbuild.invalid -c init.defaultBranch=main)
  git -C "$1" init -q
  git "${id[@]}" -C "$1" add .
  GIT_AUTHOR_DATE=2025-01-01T00:00:00Z GIT_COMMITTER_DATE=2025-01-01T00:00:00Z \
    git "${id[@]}" -C "$1" commit -q -m "sample"
}

# The commit id of the sample as the guest sees it.
vm_sample_commit() {
  local tmp c
  tmp=$(mktemp -d)
  cp "$ROOT/samples/hello/hello.c" "$ROOT/samples/hello/Makefile" "$tmp/"
  printf 'out/\n' >"$tmp/.gitignore"
  vm_git_commit "$tmp"
  c=$(git -C "$tmp" rev-parse HEAD)
  rm -rf "$tmp"
  echo "$c"
}

# Manufactures (once) and starts the VM's vTPM: swtpm with EK certificates
# from the local CA in $2, state in $1, control socket $3 (absolute paths:
# swtpm changes directory). Appends its pid to PIDS. Each boot needs a new
# swtpm process (PCRs reset); it ends when QEMU disconnects.
vm_swtpm_start() {
  local state=$1 ca=$2 sock=$3
  scripts/swtpm-setup.sh "$state" "$ca"
  rm -f "$sock"
  swtpm socket --tpm2 --tpmstate dir="$state" --ctrl type=unixio,path="$sock" \
    --terminate --log file="$(dirname "$sock")/swtpm.log" &
  PIDS+=($!)
  local _
  for _ in $(seq 100); do [[ -S $sock ]] && return 0; sleep 0.1; done
  die "swtpm did not create $sock (see $(dirname "$sock")/swtpm.log)"
}

# Boots the VM once and waits for it to power off:
#   vm_boot WORKDIR KERNEL INITRD APPEND MEMORY_MIB [VERIFIER_PORT CA_PEM]
# (without a verifier: a calibration boot, APPEND must hold
# sealbuild.calibrate).
# The vTPM state and CA are WORKDIR/tpm-state and WORKDIR/tpm-ca. Leaves
# WORKDIR/console.log (ttyS0), WORKDIR/guest-out.txt (ttyS1, see
# qemu/guest/init), WORKDIR/binary_bios_measurements (the guest's event
# log) and WORKDIR/bundle/ (when the build produced one). Shows the guest's
# console, indented, unless VM_QUIET=1. Returns QEMU's exit status.
vm_boot() {
  local w=$1 kernel=$2 initrd=$3 append=$4 mem=$5 port=${6:-} ca=${7:-}
  mkdir -p "$w"
  rm -rf "$w/bundle" "$w/console.log" "$w/guest-out.txt" "$w/binary_bios_measurements"
  local sock=$w/swtpm.sock
  vm_swtpm_start "$w/tpm-state" "$w/tpm-ca" "$sock"
  local swtpm_pid=${PIDS[-1]}
  # A fresh copy of the variable store each boot: the same variables, the
  # same PCR 1.
  cp "$VM_OVMF_VARS" "$w/OVMF_VARS_4M.fd"
  : >"$w/console.log"
  local settings=()
  # shellcheck disable=SC2054  # commas inside QEMU option values
  [[ -n $port ]] && settings=(-fw_cfg name=opt/sealbuild/port,string="$port" -fw_cfg name=opt/sealbuild/ca,file="$ca")
  local rc=0 qpid tailjob=
  timeout "${SEALBUILD_VM_TIMEOUT:-400}" qemu-system-x86_64 \
    -accel tcg -machine q35 -smp 1 -m "$mem" -nodefaults -display none -no-reboot \
    -drive if=pflash,format=raw,unit=0,readonly=on,file="$VM_OVMF_CODE" \
    -drive if=pflash,format=raw,unit=1,file="$w/OVMF_VARS_4M.fd" \
    -chardev socket,id=chrtpm,path="$sock" -tpmdev emulator,id=tpm0,chardev=chrtpm \
    -device tpm-tis,tpmdev=tpm0 \
    -netdev user,id=net0 -device e1000,netdev=net0,romfile= \
    -kernel "$kernel" -initrd "$initrd" -append "$append" \
    "${settings[@]}" \
    -serial file:"$w/console.log" -serial file:"$w/guest-out.txt" \
    </dev/null >"$w/qemu.log" 2>&1 &
  qpid=$!
  if [[ ${VM_QUIET:-0} != 1 ]]; then
    # tail ends by itself when QEMU (its timeout wrapper) has ended.
    # (terminal control sequences of the firmware and of progress bars removed)
    tail -n +1 -s 0.2 --pid="$qpid" -f "$w/console.log" \
      | sed -u 's/\x1b\[[0-9;=?]*[A-Za-z]//g; s/.*\r\([^\r]\)/\1/; s/\r$//; /^$/d; s/^/    | /' >&2 &
    tailjob=$!
  fi
  wait "$qpid" || rc=$?
  [[ -n $tailjob ]] && { wait "$tailjob" 2>/dev/null || true; }
  wait "$swtpm_pid" 2>/dev/null || true
  ((rc == 124)) && say "the VM did not power off within ${SEALBUILD_VM_TIMEOUT:-400} s (timeout)"
  ((rc != 0)) && sed 's/^/    qemu: /' "$w/qemu.log" >&2
  tr -d '\r' <"$w/guest-out.txt" >"$w/guest-out.clean"
  vm_section EVENTLOG "$w/guest-out.clean" | base64 -d >"$w/binary_bios_measurements" 2>/dev/null || true
  if grep -q '^SEALBUILD-BUNDLE-BEGIN$' "$w/guest-out.clean"; then
    mkdir -p "$w/bundle"
    vm_section BUNDLE "$w/guest-out.clean" | base64 -d | tar -xz -C "$w/bundle"
  fi
  return "$rc"
}

# The lines between SEALBUILD-$1-BEGIN and SEALBUILD-$1-END of file $2.
vm_section() {
  sed -n "/^SEALBUILD-$1-BEGIN\$/,/^SEALBUILD-$1-END\$/{/^SEALBUILD-/d;p}" "$2"
}

# The exit code the guest reported for step $1 (register, attest, build),
# or "none" when it did not get there.
vm_step() {
  local rc
  rc=$(sed -n "s/^SEALBUILD-STEP $1 \([0-9]*\)$/\1/p" "$2" | tail -1)
  echo "${rc:-none}"
}
