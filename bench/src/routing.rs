//! Routing decisions per second with 10,000 queued cases and 1,000 agents, in memory
//! (`routing::router::Router`): the indexed push decision (ready sets per skill and kind of
//! work) against the naive baseline that scans every agent, measured in the same run on the
//! same state; plus a full assign/release cycle and pull ("take next") decisions.

use std::time::Instant;

use inlet::inbox::{Agent, AgentState, Capacity, WorkKind};
use inlet::routing::router::{QueuedCase, Router};

const AGENTS: usize = 1_000;
const QUEUED: usize = 10_000;
const SKILLS: usize = 20;
const CHANNELS: usize = 4;
const IN_PROGRESS: usize = 1_500;

fn agent(i: usize) -> Agent {
    let skills: Vec<String> = [i % SKILLS, (i * 7 + 3) % SKILLS, (i * 13 + 5) % SKILLS]
        .iter()
        .map(|s| format!("skill-{s}"))
        .collect();
    let proficiency = skills
        .iter()
        .enumerate()
        .map(|(k, s)| (s.clone(), (1 + (i * (k + 3)) % 10) as u8))
        .collect();
    // Each agent reads three of the four channels.
    let channels = (0..CHANNELS)
        .filter(|c| *c != i % CHANNELS)
        .map(|c| format!("ch-{c}"))
        .collect();
    Agent {
        id: format!("agent-{i:04}"),
        tenant: "bench".into(),
        name: format!("Agent {i}"),
        channels,
        skills,
        proficiency,
        capacity: Capacity {
            chat: 3,
            email: 10,
            social: 10,
        },
        state: AgentState::Available,
        team: None,
        permissions: Default::default(),
    }
}

fn case(i: usize) -> QueuedCase {
    QueuedCase {
        id: format!("case-{i:06}"),
        skill: format!("skill-{}", (i * 31) % SKILLS),
        priority: 1 + (i % 9) as u8,
        since_ms: i as u64,
        channel: format!("ch-{}", (i / SKILLS) % CHANNELS),
        kind: WorkKind::Chat,
        team: None,
    }
}

/// Decisions per second of `decide` over `cases`, repeated until `min_decisions`.
fn rate(
    cases: &[QueuedCase],
    min_decisions: usize,
    decide: impl Fn(&QueuedCase) -> Option<String>,
) -> (f64, usize) {
    let started = Instant::now();
    let (mut n, mut found) = (0, 0);
    while n < min_decisions {
        for c in cases {
            if std::hint::black_box(decide(c)).is_some() {
                found += 1;
            }
            n += 1;
            if n >= min_decisions {
                break;
            }
        }
    }
    (n as f64 / started.elapsed().as_secs_f64(), found)
}

pub async fn run() -> anyhow::Result<()> {
    println!("inlet-bench: routing decisions ({QUEUED} queued cases, {AGENTS} agents, {SKILLS} skills, 3 skills and 3 chats per agent, {IN_PROGRESS} cases in progress)\n");
    let mut r = Router::default();
    for i in 0..AGENTS {
        r.upsert_agent(agent(i), i as u64);
    }
    // Some work in progress, so capacity is partly taken.
    let mut assigned = std::collections::VecDeque::new();
    let mut i = QUEUED;
    while assigned.len() < IN_PROGRESS {
        let c = case(i);
        i += 1;
        if let Some(a) = r.best_agent(&c) {
            r.set_assigned(&c.id, &a, c.kind, i as u64);
            assigned.push_back(c);
        }
    }
    let queued: Vec<QueuedCase> = (0..QUEUED).map(case).collect();
    for c in &queued {
        r.enqueue(c.clone());
    }

    // Same state, same cases: indexed vs naive. Both must pick the same agent.
    let mismatches = queued
        .iter()
        .take(500)
        .filter(|c| r.best_agent(c) != r.best_agent_naive(c))
        .count();
    let (indexed, found) = rate(&queued, 200_000, |c| r.best_agent(c));
    let (naive, _) = rate(&queued, 5_000, |c| r.best_agent_naive(c));
    println!("1. Push decision: the best agent for a queued case");
    println!("   indexed (ready sets per skill/kind)  {indexed:>12.0} decisions/s  ({:.2} µs; {:.0}% found an agent)", 1e6 / indexed, found as f64 * 100.0 / 200_000.0);
    println!(
        "   baseline: scan every agent           {naive:>12.0} decisions/s  ({:.2} µs)",
        1e6 / naive
    );
    println!("   ratio                                {:>12.1}x  (same choice in {}/500 sampled cases)\n", indexed / naive, 500 - mismatches);

    // Full cycle: decide, assign (index upkeep), then the oldest case in progress ends,
    // keeping the 10,000 queued and the load steady.
    let cycles = 100_000;
    let started = Instant::now();
    let mut done = 0;
    for k in 0..cycles {
        let c = &queued[k % QUEUED];
        let c = QueuedCase {
            id: format!("{}-{k}", c.id),
            ..c.clone()
        };
        if let Some(a) = r.best_agent(&c) {
            r.set_assigned(&c.id, &a, c.kind, (i + k) as u64);
            assigned.push_back(c);
            done += 1;
        }
        if let Some(old) = assigned.pop_front() {
            r.release(&old.id);
        }
    }
    let cycle_rate = cycles as f64 / started.elapsed().as_secs_f64();
    println!("2. Full push cycle (decide + assign + the oldest case in progress ends), indexed");
    println!(
        "   {cycle_rate:>12.0} cycles/s  ({:.2} µs; {done} assignments)\n",
        1e6 / cycle_rate
    );

    // Pull: the most urgent case an agent may take.
    let agents: Vec<String> = (0..AGENTS).map(|i| format!("agent-{i:04}")).collect();
    let started = Instant::now();
    let pulls = 50_000;
    let mut hits = 0;
    for k in 0..pulls {
        if std::hint::black_box(r.best_case_for(&agents[k % AGENTS])).is_some() {
            hits += 1;
        }
    }
    let pull_rate = pulls as f64 / started.elapsed().as_secs_f64();
    println!("3. Pull decision (take next) over the agent's skill queues");
    println!(
        "   {pull_rate:>12.0} decisions/s  ({:.2} µs; {hits} found a case)",
        1e6 / pull_rate
    );
    Ok(())
}
