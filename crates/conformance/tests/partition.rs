//! `--partition K/N`: the N shares of a matrix are disjoint, cover it, and each share's report
//! is complete for its cases (skipped ones included).

use std::collections::BTreeMap;

use handshake_conformance::{
    ExpectedFailures, Partition, ReferenceClient, Runner, Scenario, Status, Target,
};
use handshake_profile::Profile;

fn runner(partition: Partition) -> Runner {
    Runner::new(ReferenceClient)
        .scenarios(Scenario::builtins())
        .targets(Profile::builtins().into_iter().map(Target::mock))
        .partition(partition)
}

fn key(c: &handshake_conformance::PlannedCase) -> (String, String) {
    (c.target.id().to_owned(), c.scenario.id.clone())
}

/// For N in 1..=5, every case of the whole built-in matrix is in exactly one of the N
/// partitions, skipped cases included, each partition keeps plan order, and the shares differ
/// in size by at most one.
#[test]
fn the_union_of_n_partitions_is_the_whole_matrix_each_case_once() {
    let whole: Vec<(String, String)> = runner(Partition::whole()).plan().iter().map(key).collect();
    let skipped_whole = runner(Partition::whole())
        .plan()
        .iter()
        .filter(|c| c.skip.is_some())
        .count();
    assert!(whole.len() >= 175, "the whole matrix, got {}", whole.len());
    assert!(skipped_whole > 0, "the matrix has skipped cases to deal");
    for n in 1..=5 {
        let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
        let mut sizes = Vec::new();
        let mut skipped = 0;
        for k in 1..=n {
            let share = runner(Partition::new(k, n).unwrap()).plan();
            sizes.push(share.len());
            skipped += share.iter().filter(|c| c.skip.is_some()).count();
            let keys: Vec<_> = share.iter().map(key).collect();
            // Plan order within the share: a subsequence of the whole plan.
            let mut rest = whole.iter();
            assert!(
                keys.iter().all(|k| rest.any(|w| w == k)),
                "{k}/{n} is out of plan order"
            );
            for case in keys {
                *seen.entry(case).or_default() += 1;
            }
        }
        assert_eq!(
            seen.len(),
            whole.len(),
            "N={n}: some case is in no partition"
        );
        let twice: Vec<_> = seen.iter().filter(|(_, &c)| c != 1).collect();
        assert!(
            twice.is_empty(),
            "N={n}: in more than one partition: {twice:?}"
        );
        assert_eq!(skipped, skipped_whole, "N={n}: skipped cases are dealt too");
        let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(max - min <= 1, "N={n}: unbalanced shares {sizes:?}");
    }
}

/// The deal depends only on the plan: two runners built alike deal alike.
#[test]
fn partitions_are_deterministic() {
    for k in 1..=3 {
        let p = Partition::new(k, 3).unwrap();
        let a: Vec<_> = runner(p).plan().iter().map(key).collect();
        let b: Vec<_> = runner(p).plan().iter().map(key).collect();
        assert_eq!(a, b);
    }
}

/// Running two partitions of a small matrix gives, together, exactly the whole run's cases
/// and statuses (the skipped ones in the share that drew them); an expected-failures entry for
/// a case the other partition runs is not reported as stale, one matching nothing is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_reports_together_are_the_whole_report() {
    let small = |p: Partition| {
        let scenarios: Vec<Scenario> = Scenario::builtins()
            .into_iter()
            .filter(|s| ["happy-path", "pkce-s256", "logout-revokes"].contains(&s.id.as_str()))
            .collect();
        assert_eq!(scenarios.len(), 3);
        let expected = ExpectedFailures::from_toml_str(
            "[[expected_failure]]\nprovider = \"redtail\"\nscenario = \"happy-path\"\nwhy = \"x\"\n\
             [[expected_failure]]\nprovider = \"capsule\"\nscenario = \"no-such-scenario\"\nwhy = \"y\"\n",
            "expected-failures.toml",
        )
        .unwrap();
        Runner::new(ReferenceClient)
            .scenarios(scenarios)
            .targets(
                ["capsule", "redtail"]
                    .into_iter()
                    .map(|id| Target::mock(Profile::builtin(id).unwrap())),
            )
            .expected_failures(expected)
            .partition(p)
    };
    let whole = small(Partition::whole()).run().await;
    assert_eq!(whole.cases.len(), 6);
    assert!(whole.cases.iter().any(|c| c.status == Status::Skipped));
    let statuses = |r: &handshake_conformance::Report| {
        r.cases
            .iter()
            .map(|c| ((c.provider.clone(), c.scenario.clone()), c.status))
            .collect::<BTreeMap<_, _>>()
    };
    let mut union = BTreeMap::new();
    for k in 1..=2 {
        let share = small(Partition::new(k, 2).unwrap()).run().await;
        assert_eq!(share.cases.len(), 3, "{k}/2");
        assert_eq!(share.summary.total, 3, "{k}/2");
        assert!(
            share.notes[0].starts_with(&format!("partition {k}/2: 3 of the matrix's 6 cases")),
            "{:?}",
            share.notes
        );
        let stale: Vec<_> = share
            .notes
            .iter()
            .filter(|n| n.contains("matches no case"))
            .collect();
        assert_eq!(stale.len(), 1, "only the entry matching nothing: {stale:?}");
        assert!(stale[0].contains("no-such-scenario"), "{stale:?}");
        let junit = share.to_junit("handshake-conformance").unwrap();
        assert_eq!(junit.matches("<testcase ").count(), 3, "{junit}");
        for (case, status) in statuses(&share) {
            assert!(union.insert(case, status).is_none(), "a case ran twice");
        }
    }
    assert_eq!(union, statuses(&whole));
}
