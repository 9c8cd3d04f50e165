//! Rich content and outbound delivery:
//! - transformations per second for a mixed message set adapted to every bundled channel and
//!   both audiences, next to a JSON round trip of the same messages (the cost of merely
//!   storing them) as the baseline;
//! - outbox throughput: replies queued in the durable outbox, delivered through the Telegram
//!   plugin to the Telegram simulator over HTTP, next to the same number of direct plugin
//!   sends (no outbox) as the baseline.

use std::sync::Arc;
use std::time::Instant;

use inlet::content::{adapt, Audience};
use inlet::delivery::Delivery;
use inlet::inbox::{Author, ChannelRecord, Inbox, ReplyRequest, Settings};
use inlet::model::{
    Capabilities, Choice, Contact, Content, InboundEvent, InboundMessage, ListPicker, ListSection,
    OutboundMessage, Rich, RichLink, TextFormat, TimePicker, TimeSlot,
};
use inlet::runtime::{ChannelSpec, PluginSource, Runtime, RuntimeOptions};
use inlet::store::{MemoryKv, SledStore};

fn choice(i: usize) -> Choice {
    Choice {
        id: format!("option-{i}"),
        title: format!("Option number {i}"),
        description: Some("Some words about it".into()),
        image_url: None,
        url: None,
    }
}

/// Ten messages: plain, markdown, HTML, quick replies (3 and 8), buttons, a list, a time
/// picker, a rich link, an adaptive card.
fn messages() -> Vec<Content> {
    let with = |rich: Rich| {
        let mut c = Content::text("Here you go");
        c.rich = Some(rich);
        c
    };
    let mut md = Content::text("");
    md.format = TextFormat::Markdown;
    md.formatted = Some(
        "# Your order\n\nOrder **#123** ships _today_. [Track it](https://t.example/1)".into(),
    );
    let mut html = Content::text("");
    html.format = TextFormat::Html;
    html.formatted = Some("<p>Hello <b>Ana</b>,</p><ul><li>one</li><li>two</li></ul>".into());
    let mut q3 = Content::text("Which one?");
    q3.quick_replies = (1..=3).map(choice).collect();
    let mut q8 = Content::text("Which one?");
    q8.quick_replies = (1..=8).map(choice).collect();
    let mut buttons = Content::text("Next step");
    buttons.buttons = (1..=2).map(choice).collect();
    vec![
        Content::text("Thanks for your message, an agent will be with you shortly."),
        md,
        html,
        q3,
        q8,
        buttons,
        with(Rich::ListPicker(ListPicker {
            title: "Departments".into(),
            button_label: "Choose".into(),
            sections: vec![ListSection {
                title: None,
                items: (1..=6).map(choice).collect(),
            }],
            multi_select: false,
        })),
        with(Rich::TimePicker(TimePicker {
            title: "Pick a slot".into(),
            slots: (0..4)
                .map(|i| TimeSlot {
                    id: format!("s{i}"),
                    start_ms: 1_795_525_200_000 + i * 1_800_000,
                    duration_minutes: 30,
                })
                .collect(),
            time_zone: "Europe/Berlin".into(),
            location: None,
        })),
        with(Rich::RichLink(RichLink {
            url: "https://shop.example/p/1".into(),
            title: "Blue shirt".into(),
            image_url: None,
        })),
        with(Rich::AdaptiveCard {
            json: r#"{"type":"AdaptiveCard","version":"1.5","body":[{"type":"TextBlock","text":"Order **#123**"},{"type":"FactSet","facts":[{"title":"Status","value":"Shipped"},{"title":"ETA","value":"Friday"}]},{"type":"Image","url":"https://x.example/i.png","altText":"Map"}],"actions":[{"type":"Action.Submit","title":"Track","data":"track"},{"type":"Action.OpenUrl","title":"Help","url":"https://x.example/help"}]}"#.into(),
        }),
    ]
}

async fn bundled_capabilities() -> anyhow::Result<Vec<(String, Capabilities)>> {
    let rt = Runtime::new(RuntimeOptions::default(), Arc::new(MemoryKv::default()))?;
    let mut out = Vec::new();
    for (name, bytes) in inlet::bundled::BUNDLED {
        rt.install(bytes.to_vec(), PluginSource::Bundled).await?;
        if let Some(info) = rt.plugin(name) {
            out.push((name.to_string(), info.manifest.capabilities));
        }
    }
    Ok(out)
}

fn transform_rate(channels: &[(String, Capabilities)]) -> (f64, f64) {
    let messages = messages();
    let rounds = 2_000;
    let mut n = 0usize;
    let mut checksum = 0usize;
    let started = Instant::now();
    for _ in 0..rounds {
        for (_, caps) in channels {
            for audience in [Audience::Automation, Audience::Agent] {
                for m in &messages {
                    checksum += adapt(m, audience.capabilities(caps)).parts.len();
                    n += 1;
                }
            }
        }
    }
    let adapt_rate = n as f64 / started.elapsed().as_secs_f64();
    // Baseline: a JSON round trip of each message, the same number of times.
    let started = Instant::now();
    let mut m2 = 0usize;
    for _ in 0..rounds {
        for _ in channels {
            for _ in 0..2 {
                for m in &messages {
                    let bytes = serde_json::to_vec(m).unwrap_or_default();
                    let back: Option<Content> = serde_json::from_slice(&bytes).ok();
                    checksum += back.map_or(0, |c| c.text.len());
                    m2 += 1;
                }
            }
        }
    }
    let json_rate = m2 as f64 / started.elapsed().as_secs_f64();
    std::hint::black_box(checksum);
    (adapt_rate, json_rate)
}

const CONVERSATIONS: i64 = 100;
const PER_CONVERSATION: usize = 10;
const BOT_TOKEN: &str = "1:bench-outbox";

fn record(api_base: &str) -> ChannelRecord {
    ChannelRecord {
        id: "tg".into(),
        tenant: "bench".into(),
        name: "tg".into(),
        plugin: "telegram".into(),
        config: [("api_base".to_string(), api_base.to_string())].into(),
        egress: vec![api_base.to_string()],
        default_skill: "support".into(),
        default_script: "welcome".into(),
        plugin_version: None,
        enabled: true,
        public_url: None,
        created_ms: 0,
    }
}

/// (outbox messages/s, direct sends/s)
async fn outbox_rate() -> anyhow::Result<(f64, f64)> {
    let sim = inlet_simulators::TelegramSim::start(BOT_TOKEN).await?;
    for chat in 1..=CONVERSATIONS {
        sim.add_chat(chat);
    }
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SledStore::open(dir.path())?);
    let inbox = Inbox::open(store, Settings::default())?;
    inbox.create_tenant("bench", "Bench", "EU")?;
    let rt = Runtime::new(RuntimeOptions::default(), Arc::new(MemoryKv::default()))?;
    let bytes = inlet::bundled::BUNDLED
        .iter()
        .find(|(n, _)| *n == "telegram")
        .map(|(_, b)| b.to_vec())
        .ok_or_else(|| anyhow::anyhow!("telegram not bundled"))?;
    rt.install(bytes, PluginSource::Bundled).await?;
    let base = sim.base_url();
    let channel = rt
        .add_channel(
            ChannelSpec {
                id: "tg".into(),
                plugin: "telegram".into(),
                config: [
                    ("bot_token".to_string(), BOT_TOKEN.to_string()),
                    ("webhook_secret".to_string(), "s".to_string()),
                    ("api_base".to_string(), base.clone()),
                ]
                .into(),
                egress: vec![base.clone()],
                public_url: None,
                version: None,
                limits: None,
            },
            "http://127.0.0.1:8080",
        )
        .await?;
    let rec = record(&base);
    inbox.put_channel(&rec)?;
    let mut cases = Vec::new();
    for chat in 1..=CONVERSATIONS {
        inbox.ingest(
            &rec,
            vec![InboundEvent::Message(InboundMessage {
                provider_id: format!("u{chat}"),
                conversation: chat.to_string(),
                contact: Contact {
                    id: chat.to_string(),
                    display_name: None,
                    handle: None,
                    locale: None,
                },
                text: Some("hello".into()),
                attachments: Vec::new(),
                reply_to: None,
                timestamp_ms: 0,
            })],
        )?;
    }
    for c in inbox
        .list_cases("bench", &Default::default(), None, 1000)?
        .cases
    {
        cases.push(c.id);
    }
    for i in 0..PER_CONVERSATION {
        for case in &cases {
            inbox.reply(
                "bench",
                case,
                Author::Bot("bench".into()),
                ReplyRequest {
                    content: Content::text(format!("reply {i}")),
                    reply_to: None,
                },
            )?;
        }
    }
    let total = cases.len() * PER_CONVERSATION;
    let delivery = Delivery::new(inbox.clone(), rt.clone());
    let started = Instant::now();
    while sim.sent().len() < total {
        if delivery.drain_once().await? == 0 {
            tokio::task::yield_now().await;
        }
        anyhow::ensure!(
            started.elapsed().as_secs() < 120,
            "outbox did not drain: {} of {total}",
            sim.sent().len()
        );
    }
    let outbox_rate = total as f64 / started.elapsed().as_secs_f64();

    // Baseline: the same number of sends straight through the plugin, no outbox.
    let started = Instant::now();
    for i in 0..total {
        let chat = (i as i64 % CONVERSATIONS) + 1;
        channel
            .send(OutboundMessage {
                idempotency_key: format!("direct-{i}"),
                conversation: chat.to_string(),
                recipient: None,
                content: Content::text(format!("direct {i}")),
                reply_to: None,
                tag: None,
                public_reply: false,
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let direct_rate = total as f64 / started.elapsed().as_secs_f64();
    Ok((outbox_rate, direct_rate))
}

pub async fn run() -> anyhow::Result<()> {
    let channels = bundled_capabilities().await?;
    let (adapt_rate, json_rate) = transform_rate(&channels);
    println!(
        "content: {} messages × {} channels × 2 audiences",
        messages().len(),
        channels.len()
    );
    println!(
        "  adapt (transform to channel + audience): {:>10.0} /s  ({:.2} µs each)",
        adapt_rate,
        1e6 / adapt_rate
    );
    println!(
        "  JSON round trip of the same messages:    {:>10.0} /s  ({:.2} µs each)",
        json_rate,
        1e6 / json_rate
    );
    println!(
        "  ratio adapt / JSON round trip: {:.2}",
        adapt_rate / json_rate
    );
    let (outbox, direct) = outbox_rate().await?;
    println!(
        "outbox: {} replies in {CONVERSATIONS} conversations → Telegram plugin → simulator",
        CONVERSATIONS as usize * PER_CONVERSATION
    );
    println!("  durable outbox delivery: {outbox:>8.0} messages/s");
    println!("  direct plugin sends:     {direct:>8.0} messages/s (baseline, no outbox)");
    println!("  ratio outbox / direct: {:.2}", outbox / direct);
    Ok(())
}
