//! Concurrency on one database through separate connections (separate
//! stores, as separate verifier processes or replicas would have), on both
//! backends: a nonce is consumed exactly once, and concurrent audit appends
//! form one chain. And within one SQLite store: a burst of writers queues on the single writer, shares
//! commits (group commit) and never fails with "database busy".

// Test code: panicking on an unexpected result is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod store_support;

use sealbuild_verifier::audit::verify_store;
use sealbuild_verifier::store::{NonceUse, Store, Take};
use std::sync::{Arc, Barrier};
use store_support::*;

const THREADS: usize = 8;

fn used(b: u8) -> NonceUse {
    NonceUse {
        nonce: vec![b; 32],
        agent_id: "a1".into(),
        issued_at: NOW,
        expires_at: NOW + 60,
    }
}

both_backends!(
    eight_connections_race_for_nonces_and_exactly_one_wins_each,
    concurrent_appends_from_separate_connections_form_one_chain,
    a_failing_write_in_a_batch_rolls_back_only_itself,
);

fn eight_connections_race_for_nonces_and_exactly_one_wins_each(backend: Backend) {
    let db = TestDb::new(backend);
    drop(db.open());
    const NONCES: u8 = 40;

    // Each thread opens its own store (its own connection) before the race.
    let stores: Vec<Arc<dyn Store>> = (0..THREADS).map(|_| db.open()).collect();
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = stores
        .into_iter()
        .enumerate()
        .map(|(t, store)| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let mut outcomes = Vec::new();
                // Nonce 0 first, all threads at once; then the rest, each
                // thread starting at a different one.
                barrier.wait();
                let order = std::iter::once(0u8)
                    .chain((0..NONCES - 1).map(|i| 1 + (i + t as u8 * 5) % (NONCES - 1)));
                for b in order {
                    let r = store
                        .take_nonce(&used(b), NOW + 1)
                        .expect("take must not fail");
                    outcomes.push((b, r.name()));
                }
                outcomes
            })
        })
        .collect();

    let mut taken = vec![0usize; NONCES as usize];
    let mut already = vec![0usize; NONCES as usize];
    for h in handles {
        for (b, name) in h.join().unwrap() {
            match name {
                "taken" => taken[b as usize] += 1,
                "already_used" => already[b as usize] += 1,
                other => panic!("nonce {b}: unexpected outcome {other}"),
            }
        }
    }
    for b in 0..NONCES as usize {
        assert_eq!(taken[b], 1, "nonce {b} was taken {} times", taken[b]);
        assert_eq!(already[b], THREADS - 1, "nonce {b}");
    }
    let check = db.open();
    assert!(matches!(
        check.take_nonce(&used(0), NOW + 2).unwrap(),
        Take::AlreadyUsed(_)
    ));
}

fn concurrent_appends_from_separate_connections_form_one_chain(backend: Backend) {
    let db = TestDb::new(backend);
    drop(db.open());
    const PER_THREAD: u64 = 25;
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS as u64)
        .map(|t| {
            let store = db.open();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                for i in 0..PER_THREAD {
                    store
                        .append_notice(notice(NOW + i, t * 1000 + i))
                        .expect("append must not fail");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let store = db.open();
    let report = verify_store(store.as_ref(), None).unwrap();
    assert_eq!(report.entries, THREADS as u64 * PER_THREAD);
    assert_eq!(report.head, store.audit_head().unwrap());
    assert_eq!(report.head.seq, THREADS as u64 * PER_THREAD);
}

#[test]
fn a_burst_on_one_store_queues_shares_commits_and_keeps_every_write() {
    let (_dir, path) = temp_db();
    let store = Arc::new(open(&path));
    const WRITERS: usize = 128;
    const EACH: usize = 8;
    let barrier = Arc::new(Barrier::new(WRITERS));
    let handles: Vec<_> = (0..WRITERS)
        .map(|t| {
            let store = Arc::clone(&store);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                let mut errors = Vec::new();
                for i in 0..EACH {
                    // Alternate durable (audit) and lazy (nonce use) writes.
                    let r = if i % 2 == 0 {
                        store
                            .append_notice(notice(NOW, (t * 1000 + i) as u64))
                            .map(|_| ())
                    } else {
                        let mut n = used(0);
                        n.nonce = format!("{t:04}-{i:04}").into_bytes();
                        store
                            .take_nonce(&n, NOW)
                            .map(|r| assert_eq!(r.name(), "taken"))
                    };
                    if let Err(e) = r {
                        errors.push(e.to_string());
                    }
                }
                errors
            })
        })
        .collect();
    let errors: Vec<String> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert!(
        errors.is_empty(),
        "{} writes failed: {:?}",
        errors.len(),
        errors.first()
    );
    let stats = store.writer_stats();
    let total = (WRITERS * EACH) as u64;
    assert_eq!(stats.writes, total);
    // Group commit: fewer commits than writes (a burst shares transactions).
    assert!(
        stats.commits < total,
        "every write committed alone: {stats:?}"
    );
    eprintln!(
        "{total} writes in {} commits ({} durable)",
        stats.commits, stats.durable_commits
    );
    let c = raw(&path);
    assert_eq!(count(&c, "nonces"), (WRITERS * EACH / 2) as i64);
    assert_eq!(count(&c, "audit"), (WRITERS * EACH / 2) as i64);
    verify_store(store.as_ref(), None).unwrap();
}

fn a_failing_write_in_a_batch_rolls_back_only_itself(backend: Backend) {
    let db = TestDb::new(backend);
    let store = db.open();
    const WRITERS: usize = 64;
    let barrier = Arc::new(Barrier::new(WRITERS));
    let handles: Vec<_> = (0..WRITERS)
        .map(|t| {
            let store = Arc::clone(&store);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                // Every third writer asks for a policy version that does not
                // exist (an error inside its savepoint); the others append.
                if t % 3 == 0 {
                    store.set_current_policy("default", 99, NOW).is_err()
                } else {
                    store.append_notice(notice(NOW, t as u64)).is_ok()
                }
            })
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap());
    }
    let expected = (0..WRITERS).filter(|t| t % 3 != 0).count() as i64;
    assert_eq!(db.count("audit"), expected);
    verify_store(store.as_ref(), None).unwrap();
}
