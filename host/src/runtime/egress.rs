//! The only way a plugin reaches the network: `http-fetch`, checked against the channel's
//! [`EgressPolicy`] before any connection is made. Redirects are not followed (a redirect
//! would be a way around the allowlist); timeouts and response sizes are capped.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::convert::Outgoing;
use super::sandbox::{EgressPolicy, Limits};
use crate::model::HttpResponse;

/// Why an outbound request did not produce a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    Denied(String),
    InvalidRequest(String),
    Timeout,
    Connection(String),
    TooLarge,
}

type Connector = hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;

/// A pooled HTTP/1.1 client (TLS via rustls with the webpki roots).
#[derive(Clone)]
pub struct HttpClient {
    client: Client<Connector, Full<Bytes>>,
}

impl HttpClient {
    pub fn new() -> anyhow::Result<Self> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Self { client })
    }

    /// Check `request` against `policy`, then perform it within `limits`.
    pub async fn fetch(
        &self,
        policy: &EgressPolicy,
        request: Outgoing,
        limits: &Limits,
    ) -> Result<HttpResponse, FetchError> {
        policy.check(&request.url).map_err(FetchError::Denied)?;
        let method: http::Method = request
            .method
            .parse()
            .map_err(|_| FetchError::InvalidRequest(format!("bad method `{}`", request.method)))?;
        let mut builder = http::Request::builder().method(method).uri(&request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let req = builder
            .body(Full::new(Bytes::from(request.body)))
            .map_err(|e| FetchError::InvalidRequest(e.to_string()))?;
        let timeout = Duration::from_millis(
            request
                .timeout_ms
                .map(u64::from)
                .unwrap_or(limits.http_timeout_ms)
                .min(limits.http_timeout_ms),
        );
        let max = usize::try_from(limits.http_max_response_kb * 1024).unwrap_or(usize::MAX);
        let work = async {
            let response = self
                .client
                .request(req)
                .await
                .map_err(|e| FetchError::Connection(error_chain(&e)))?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, max)
                .collect()
                .await
                .map_err(|e| {
                    if e.downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some()
                    {
                        FetchError::TooLarge
                    } else {
                        FetchError::Connection(e.to_string())
                    }
                })?
                .to_bytes();
            let headers = parts
                .headers
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
                .collect();
            Ok(HttpResponse {
                status: parts.status.as_u16(),
                headers,
                body: body.to_vec(),
            })
        };
        tokio::time::timeout(timeout, work)
            .await
            .unwrap_or(Err(FetchError::Timeout))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
