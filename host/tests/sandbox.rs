//! The sandbox, proven: each test runs the real fixture component in the real runtime.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use inlet::model::{ChannelError, HttpRequest};
use inlet::runtime::{
    CallErrorKind, ChannelSpec, CompileSource, Limits, LoadError, PluginSource, Runtime,
    RuntimeOptions,
};
use inlet::store::MemoryKv;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/{name}", inlet::bundled::FIXTURE_DIR);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn runtime_with(limits: Limits, cache: Option<std::path::PathBuf>) -> Arc<Runtime> {
    Runtime::new(
        RuntimeOptions {
            cache_dir: cache,
            limits,
        },
        Arc::new(MemoryKv::default()),
    )
    .expect("runtime")
}

fn request(body: &str) -> HttpRequest {
    HttpRequest {
        method: "POST".into(),
        url: "http://127.0.0.1/webhooks/test".into(),
        query: Vec::new(),
        headers: Vec::new(),
        body: body.as_bytes().to_vec(),
    }
}

fn spec(id: &str, allowed_url: &str, grants: &[&str]) -> ChannelSpec {
    ChannelSpec {
        id: id.into(),
        plugin: "misbehave".into(),
        config: [("allowed_url".to_string(), allowed_url.to_string())].into(),
        egress: grants.iter().map(|g| g.to_string()).collect(),
        public_url: None,
        version: None,
        limits: None,
    }
}

async fn runtime_with_channel(
    limits: Limits,
) -> (Arc<Runtime>, Arc<inlet::runtime::ChannelHandle>) {
    let rt = runtime_with(limits, None);
    rt.install(fixture("misbehave-v1.wasm"), PluginSource::Upload)
        .await
        .expect("install fixture");
    let channel = rt
        .add_channel(
            spec("c1", "http://127.0.0.1:9", &[]),
            "http://127.0.0.1:8080",
        )
        .await
        .expect("channel");
    (rt, channel)
}

fn body_text(r: &inlet::model::Received) -> String {
    String::from_utf8_lossy(&r.response.body).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_loop_is_stopped_within_the_deadline_and_the_channel_recovers() {
    let limits = Limits {
        cpu_ms: 200,
        ..Limits::default()
    };
    let (_rt, channel) = runtime_with_channel(limits).await;
    let started = Instant::now();
    let err = channel
        .receive(request("loop"))
        .await
        .expect_err("must be stopped");
    let took = started.elapsed();
    assert!(matches!(err.kind, CallErrorKind::Deadline(_)), "{err}");
    assert!(took < Duration::from_secs(5), "stopped only after {took:?}");
    let text = err.to_string();
    assert!(
        text.contains("misbehave@1.0.0") && text.contains("channel c1"),
        "{text}"
    );
    let ok = channel.receive(request("hello")).await.expect("recovered");
    assert_eq!(body_text(&ok), "1.0.0:hello");
    assert_eq!(channel.stats().traps, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_bomb_is_refused_at_the_cap() {
    let limits = Limits {
        memory_mb: 32,
        ..Limits::default()
    };
    let (_rt, channel) = runtime_with_channel(limits).await;
    let err = channel
        .receive(request("alloc"))
        .await
        .expect_err("must be refused");
    assert!(matches!(err.kind, CallErrorKind::Memory(32)), "{err}");
    assert!(channel.receive(request("after")).await.is_ok());
}

/// A tiny HTTP server counting the requests it gets.
async fn counting_server() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let counter = hits.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let counter = counter.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    async {
                        Ok::<_, Infallible>(hyper::Response::new(http_body_util::Full::new(
                            bytes::Bytes::from("hi"),
                        )))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (format!("http://{addr}"), hits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn egress_to_an_ungranted_host_is_denied_while_a_granted_one_works() {
    let (granted_url, granted_hits) = counting_server().await;
    let (other_url, other_hits) = counting_server().await;
    let rt = runtime_with(Limits::default(), None);
    rt.install(fixture("misbehave-v1.wasm"), PluginSource::Upload)
        .await
        .expect("install");
    // Declared and granted.
    let ok_channel = rt
        .add_channel(spec("granted", &granted_url, &[&granted_url]), "http://x")
        .await
        .expect("channel");
    let r = ok_channel
        .receive(request(&format!("egress {granted_url}/ping")))
        .await
        .expect("granted egress works");
    assert_eq!(body_text(&r), "upstream 200");
    assert_eq!(granted_hits.load(Ordering::SeqCst), 1);

    // Not declared by the manifest (the plugin asks for another host).
    let err = ok_channel
        .receive(request(&format!("egress {other_url}/steal")))
        .await
        .expect_err("undeclared egress denied");
    let msg = err.to_string();
    assert!(
        matches!(err.channel_error(), Some(ChannelError::Permanent { .. })),
        "{msg}"
    );
    assert!(
        msg.contains("denied") && msg.contains("not declared"),
        "{msg}"
    );

    // Declared but not granted by the operator.
    let ungranted = rt
        .add_channel(spec("ungranted", &other_url, &[]), "http://x")
        .await
        .expect("channel");
    let err = ungranted
        .receive(request(&format!("egress {other_url}/x")))
        .await
        .expect_err("ungranted egress denied");
    assert!(err.to_string().contains("not granted"), "{err}");
    assert_eq!(
        other_hits.load(Ordering::SeqCst),
        0,
        "a denied host must see no request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trapping_plugin_does_not_disturb_another_channel() {
    let (rt, bad) = runtime_with_channel(Limits::default()).await;
    let good = rt
        .add_channel(spec("c2", "http://127.0.0.1:9", &[]), "http://x")
        .await
        .expect("c2");
    let good_calls = {
        let good = good.clone();
        tokio::spawn(async move {
            let mut ok = 0;
            for i in 0..200 {
                let r = good
                    .receive(request(&format!("m{i}")))
                    .await
                    .expect("c2 unaffected");
                assert_eq!(body_text(&r), format!("1.0.0:m{i}"));
                ok += 1;
            }
            ok
        })
    };
    for _ in 0..20 {
        let err = bad.receive(request("trap")).await.expect_err("traps");
        let msg = err.to_string();
        assert!(matches!(err.kind, CallErrorKind::Trap(_)), "{msg}");
        assert!(
            msg.contains("fixture asked to trap"),
            "panic message captured: {msg}"
        );
    }
    assert_eq!(good_calls.await.expect("join"), 200);
    assert_eq!(good.stats().traps, 0);
    assert_eq!(bad.stats().traps, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_or_non_component_wasm_is_rejected_with_a_clear_error() {
    let rt = runtime_with(Limits::default(), None);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"definitely not wasm".to_vec(), "\\0asm"),
        (b"\0asm\x01\0\0\0".to_vec(), "core WebAssembly module"),
        (b"\0asm\x0d\0\x01\0\x07\x05junk".to_vec(), "malformed"),
    ];
    for (bytes, expected) in cases {
        let err = rt
            .install(bytes, PluginSource::Upload)
            .await
            .expect_err("rejected");
        assert!(matches!(err, LoadError::Invalid(_)), "{err}");
        assert!(
            err.to_string().contains(expected),
            "`{err}` should mention {expected}"
        );
    }
    // A component stamped with another contract version.
    let mut bytes = fixture("misbehave-v1.wasm");
    let marker = b"inlet:contract-version";
    let at = bytes
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("section present")
        + marker.len();
    assert_eq!(&bytes[at..at + 5], b"0.2.0");
    bytes[at..at + 5].copy_from_slice(b"0.1.0");
    let err = rt
        .install(bytes, PluginSource::Upload)
        .await
        .expect_err("rejected");
    assert!(err.to_string().contains("inlet:channel@0.1.0"), "{err}");
    assert!(rt.plugins().is_empty(), "nothing was installed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_new_version_is_refused_and_the_old_one_keeps_serving() {
    let (rt, channel) = runtime_with_channel(Limits::default()).await;
    let err = rt
        .install(fixture("misbehave-broken.wasm"), PluginSource::Upload)
        .await
        .expect_err("refused");
    assert!(matches!(err, LoadError::Health { .. }), "{err}");
    assert!(err.to_string().contains("broken on purpose"), "{err}");
    let r = channel
        .receive(request("still"))
        .await
        .expect("old version serves");
    assert_eq!(body_text(&r), "1.0.0:still");
    assert_eq!(rt.plugin("misbehave").expect("installed").version, "1.0.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_swap_under_continuous_traffic_has_zero_failed_calls() {
    let (rt, channel) = runtime_with_channel(Limits::default()).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..3 {
        let channel = channel.clone();
        let stop = stop.clone();
        workers.push(tokio::spawn(async move {
            let (mut ok, mut failed, mut v2) = (0u32, 0u32, 0u32);
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                match channel.receive(request(&format!("w{w}-{i}"))).await {
                    Ok(r) => {
                        ok += 1;
                        if body_text(&r).starts_with("2.0.0:") {
                            v2 += 1;
                        }
                    }
                    Err(_) => failed += 1,
                }
            }
            (ok, failed, v2)
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let report = rt
        .install(fixture("misbehave-v2.wasm"), PluginSource::Upload)
        .await
        .expect("swap");
    assert_eq!(report.replaced.as_deref(), Some("1.0.0"));
    assert_eq!(report.channels_checked, vec!["c1".to_string()]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::SeqCst);
    let (mut ok, mut failed, mut v2) = (0, 0, 0);
    for w in workers {
        let (o, f, v) = w.await.expect("join");
        ok += o;
        failed += f;
        v2 += v;
    }
    assert_eq!(failed, 0, "no call may fail during a swap ({ok} succeeded)");
    assert!(ok > 50, "traffic kept flowing: {ok}");
    assert!(v2 > 0, "new version took traffic");
    let after = channel.receive(request("after")).await.expect("works");
    assert_eq!(body_text(&after), "2.0.0:after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_loads_the_compiled_component_from_the_cache() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = Some(dir.path().join("cache"));
    let first = runtime_with(Limits::default(), cache.clone());
    first
        .install(fixture("misbehave-v1.wasm"), PluginSource::Upload)
        .await
        .expect("install");
    assert_eq!(
        first.plugin("misbehave").expect("p").compiled_from,
        CompileSource::Compiled
    );
    let second = runtime_with(Limits::default(), cache);
    second
        .install(fixture("misbehave-v1.wasm"), PluginSource::Upload)
        .await
        .expect("install");
    assert_eq!(
        second.plugin("misbehave").expect("p").compiled_from,
        CompileSource::Cache
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_config_is_validated_against_the_manifest() {
    let (rt, _c) = runtime_with_channel(Limits::default()).await;
    let mut bad = spec("c9", "http://127.0.0.1:9", &[]);
    bad.config.insert("no_such_key".into(), "x".into());
    let err = rt
        .add_channel(bad, "http://x")
        .await
        .err()
        .expect("unknown key refused");
    assert!(
        err.to_string().contains("unknown config key `no_such_key`"),
        "{err}"
    );
    let err = rt
        .add_channel(spec("c9", "http://127.0.0.1:9", &["*"]), "http://x")
        .await
        .err()
        .expect("wildcard grant refused");
    assert!(err.to_string().contains("wildcards"), "{err}");
    assert!(rt.channel("c9").is_none());
}
