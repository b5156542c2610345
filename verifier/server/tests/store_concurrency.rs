//! Concurrency on one database file through separate connections (separate
//! `SqliteStore`s, as separate verifier processes would have): a nonce is
//! consumed exactly once, and concurrent audit appends form one chain.

// Test code: panicking on an unexpected result is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod store_support;

use sealbuild_verifier::audit::verify_store;
use sealbuild_verifier::store::{NewNonce, SqliteStore, Store, Take};
use std::sync::{Arc, Barrier};
use store_support::*;

const THREADS: usize = 8;

#[test]
fn eight_connections_race_for_nonces_and_exactly_one_wins_each() {
    let (_dir, path) = temp_db();
    let setup = open(&path);
    active_agent(&setup, "a1", NOW);
    const NONCES: u8 = 40;
    for b in 0..NONCES {
        setup
            .insert_nonce(
                &NewNonce {
                    nonce: vec![b; 32],
                    agent_id: "a1".into(),
                    enrolment: enrolment_of("a1"),
                    expires_at: NOW + 60,
                },
                NOW,
            )
            .unwrap();
    }
    drop(setup);

    // Each thread opens its own store (its own connection) before the race.
    let stores: Vec<SqliteStore> = (0..THREADS).map(|_| open(&path)).collect();
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
                        .take_nonce(&[b; 32], NOW + 1)
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
    let check = open(&path);
    assert!(matches!(
        check.take_nonce(&[0; 32], NOW + 2).unwrap(),
        Take::AlreadyUsed(_)
    ));
}

#[test]
fn concurrent_appends_from_separate_connections_form_one_chain() {
    let (_dir, path) = temp_db();
    drop(open(&path));
    const PER_THREAD: u64 = 25;
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS as u64)
        .map(|t| {
            let store = open(&path);
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
    let store = open(&path);
    let report = verify_store(&store, None).unwrap();
    assert_eq!(report.entries, THREADS as u64 * PER_THREAD);
    assert_eq!(report.head, store.audit_head().unwrap());
    assert_eq!(report.head.seq, THREADS as u64 * PER_THREAD);
}
