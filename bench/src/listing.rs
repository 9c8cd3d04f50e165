//! Inbox listing latency with a big store: fills a sled store with N synthetic cases
//! (`INLET_BENCH_CASES`, default 1,000,000) and times first pages, deep pages and filtered
//! pages, next to the same queries on a 10,000-case store as the baseline.

use std::sync::Arc;
use std::time::Instant;

use inlet::inbox::{CaseFilter, CaseStatus, ChannelRecord, Inbox, Settings};
use inlet::store::SledStore;

fn channel() -> ChannelRecord {
    ChannelRecord {
        id: "tg".into(),
        tenant: "bench".into(),
        name: "tg".into(),
        plugin: "telegram".into(),
        config: Default::default(),
        egress: Vec::new(),
        default_skill: "support".into(),
        default_script: "welcome".into(),
        plugin_version: None,
        enabled: true,
        public_url: None,
        created_ms: 0,
    }
}

fn time_ms<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let started = Instant::now();
    let out = f();
    (started.elapsed().as_secs_f64() * 1000.0, out)
}

fn median_ms(mut f: impl FnMut() -> anyhow::Result<usize>) -> anyhow::Result<(f64, usize)> {
    let mut samples = Vec::new();
    let mut n = 0;
    for _ in 0..7 {
        let started = Instant::now();
        n = f()?;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    Ok((samples[samples.len() / 2], n))
}

fn measure(cases: usize) -> anyhow::Result<Vec<(String, f64, usize)>> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SledStore::open(dir.path())?);
    let inbox = Inbox::open(store, Settings::default())?;
    inbox.create_tenant("bench", "Bench", "EU")?;
    let (fill_ms, _) = time_ms(|| inbox.generate_cases(&channel(), cases));
    println!("  filled {cases} cases in {:.1} s", fill_ms / 1000.0);
    let mut out = Vec::new();
    let all = CaseFilter::default();
    let (ms, n) = median_ms(|| Ok(inbox.list_cases("bench", &all, None, 50)?.cases.len()))?;
    out.push((
        "first page, active statuses (4-way merge)".to_string(),
        ms,
        n,
    ));
    let new_only = CaseFilter {
        status: vec![CaseStatus::New],
        ..CaseFilter::default()
    };
    let (ms, n) = median_ms(|| Ok(inbox.list_cases("bench", &new_only, None, 50)?.cases.len()))?;
    out.push(("first page, status=new".to_string(), ms, n));
    // Walk 20 pages in, then time the 21st.
    let mut cursor = None;
    for _ in 0..20 {
        cursor = inbox
            .list_cases("bench", &all, cursor.as_deref(), 50)?
            .next_cursor;
    }
    let (ms, n) = median_ms(|| {
        Ok(inbox
            .list_cases("bench", &all, cursor.as_deref(), 50)?
            .cases
            .len())
    })?;
    out.push(("page 21 via cursor".to_string(), ms, n));
    let vip = CaseFilter {
        tag: Some("vip".into()),
        ..CaseFilter::default()
    };
    let (ms, n) = median_ms(|| Ok(inbox.list_cases("bench", &vip, None, 50)?.cases.len()))?;
    out.push((
        "first page, tag=vip (1% of cases, post-filtered)".to_string(),
        ms,
        n,
    ));
    Ok(out)
}

pub async fn run() -> anyhow::Result<()> {
    let big: usize = std::env::var("INLET_BENCH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    println!("listing: inbox queries, sled store, median of 7\n");
    let (small, large) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        println!("baseline store:");
        let small = measure(10_000)?;
        println!("large store:");
        let large = measure(big)?;
        Ok((small, large))
    })
    .await??;
    println!(
        "\n{:<50} {:>12} {:>12} {:>7}",
        "query",
        "10k cases",
        format!("{big} cases"),
        "ratio"
    );
    for ((name, s, n), (_, l, _)) in small.iter().zip(&large) {
        println!(
            "{name:<50} {s:>10.2}ms {l:>10.2}ms {:>6.1}x   ({n} rows)",
            l / s.max(1e-6)
        );
    }
    Ok(())
}
