//! The demo a newcomer gets from `inlet serve` without a config: the bundled Telegram Bot API,
//! Twilio, WhatsApp Cloud API and Messenger Send API simulators run in-process, a Telegram, an
//! SMS, a WhatsApp and a Messenger channel point at them, and a simulated customer writes in on
//! each, so the inbox has cases to work from the first second.
//! Replies sent through the API really travel through the plugins to the simulators.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use inlet_simulators::{MessengerSim, TelegramSim, TwilioSim, WhatsAppSim};

use crate::app::App;
use crate::config::{ChannelEntry, Config};

/// The channels the demo creates.
pub const CHANNEL_IDS: [&str; 4] = [
    "telegram-demo",
    "sms-demo",
    "whatsapp-demo",
    "messenger-demo",
];
pub const TELEGRAM_TOKEN: &str = "424242:DEMO-bot-token";
pub const TELEGRAM_SECRET: &str = "demo-webhook-secret";
pub const TELEGRAM_CHAT: i64 = 100200300;
pub const TWILIO_SID: &str = "ACdemo0000000000000000000000000000";
pub const TWILIO_TOKEN: &str = "demo-twilio-auth-token";
pub const TWILIO_NUMBER: &str = "+15005550006";
pub const CUSTOMER_PHONE: &str = "+14155550123";
pub const WHATSAPP_TOKEN: &str = "EAAG-demo-access-token";
pub const WHATSAPP_APP_SECRET: &str = "demo-meta-app-secret";
pub const WHATSAPP_VERIFY: &str = "demo-verify-token";
pub const WHATSAPP_NUMBER_ID: &str = "106540352242922";
pub const WHATSAPP_CUSTOMER: &str = "4915123456789";
pub const MESSENGER_TOKEN: &str = "EAAB-demo-page-access-token";
pub const MESSENGER_APP_SECRET: &str = "demo-meta-app-secret-messenger";
pub const MESSENGER_VERIFY: &str = "demo-verify-token-messenger";
pub const MESSENGER_PAGE_ID: &str = "1477413399174235";
pub const MESSENGER_CUSTOMER: &str = "6712934056201763";

pub struct Demo {
    pub telegram: TelegramSim,
    pub twilio: TwilioSim,
    pub whatsapp: WhatsAppSim,
    pub messenger: MessengerSim,
}

impl Demo {
    /// Start the simulators and add the demo channels to `config`.
    pub async fn start(config: &mut Config) -> Result<Self> {
        let telegram = TelegramSim::start(TELEGRAM_TOKEN).await?;
        telegram.add_chat(TELEGRAM_CHAT);
        let twilio = TwilioSim::start(TWILIO_SID, TWILIO_TOKEN).await?;
        twilio.add_number(TWILIO_NUMBER);
        let whatsapp =
            WhatsAppSim::start(WHATSAPP_TOKEN, WHATSAPP_APP_SECRET, WHATSAPP_NUMBER_ID).await?;
        // An approved template, for answering after the 24-hour window.
        whatsapp.register_template("order_update", "en_US", 2);
        let messenger =
            MessengerSim::start(MESSENGER_TOKEN, MESSENGER_APP_SECRET, MESSENGER_PAGE_ID).await?;
        let tg = telegram.base_url();
        let tw = twilio.base_url();
        let wa = whatsapp.base_url();
        let fb = messenger.base_url();
        let entry = |id: &str, plugin: &str, config: &[(&str, &str)], egress: &str| ChannelEntry {
            id: id.into(),
            plugin: plugin.into(),
            tenant: None,
            name: None,
            config: config
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            egress: vec![egress.to_string()],
            public_url: None,
            default_skill: "support".into(),
            default_script: "welcome".into(),
        };
        config.channels.push(entry(
            "telegram-demo",
            "telegram",
            &[
                ("bot_token", TELEGRAM_TOKEN),
                ("webhook_secret", TELEGRAM_SECRET),
                ("api_base", &tg),
            ],
            &tg,
        ));
        config.channels.push(entry(
            "sms-demo",
            "twilio-sms",
            &[
                ("account_sid", TWILIO_SID),
                ("auth_token", TWILIO_TOKEN),
                ("from_number", TWILIO_NUMBER),
                ("api_base", &tw),
            ],
            &tw,
        ));
        config.channels.push(entry(
            "whatsapp-demo",
            "whatsapp",
            &[
                ("access_token", WHATSAPP_TOKEN),
                ("app_secret", WHATSAPP_APP_SECRET),
                ("verify_token", WHATSAPP_VERIFY),
                ("phone_number_id", WHATSAPP_NUMBER_ID),
                ("api_base", &wa),
            ],
            &wa,
        ));
        config.channels.push(entry(
            "messenger-demo",
            "messenger",
            &[
                ("access_token", MESSENGER_TOKEN),
                ("app_secret", MESSENGER_APP_SECRET),
                ("verify_token", MESSENGER_VERIFY),
                ("page_id", MESSENGER_PAGE_ID),
                ("api_base", &fb),
            ],
            &fb,
        ));
        tracing::info!(telegram = %tg, twilio = %tw, whatsapp = %wa, messenger = %fb, "demo: provider simulators running");
        Ok(Self {
            telegram,
            twilio,
            whatsapp,
            messenger,
        })
    }

    /// A simulated customer writes in on every channel (redeliveries are deduplicated, so a
    /// restart does not duplicate them).
    pub fn customer_writes_in(&self, app: Arc<App>) -> tokio::task::JoinHandle<()> {
        let update = self.telegram.update_text(
            1,
            TELEGRAM_CHAT,
            TELEGRAM_CHAT,
            "Ada",
            "Hi! My parcel #4711 has not arrived yet. Can you help?",
        );
        let sms = self.twilio.inbound_sms(
            "SM00000000000000000000000000000001",
            CUSTOMER_PHONE,
            TWILIO_NUMBER,
            "Hello, I need to change my delivery address.",
            &[],
        );
        let whatsapp = self.whatsapp.text_message(
            WHATSAPP_CUSTOMER,
            "Grace",
            "Hallo! Can I still change the size of my order 4711?",
        );
        let messenger = inlet_simulators::whatsapp::meta_json(&self.messenger.text_message(
            MESSENGER_CUSTOMER,
            "Hi, the jacket I ordered is too small. Can I exchange it?",
        ));
        let fb_signature =
            inlet_simulators::whatsapp::signature(MESSENGER_APP_SECRET, messenger.as_bytes());
        let wa_url = format!("{}/webhooks/whatsapp-demo", app.public_base_url);
        let wa_signature = inlet_simulators::whatsapp::signature(
            WHATSAPP_APP_SECRET,
            whatsapp.to_string().as_bytes(),
        );
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            // As Meta delivers: JSON signed with the app secret.
            let body = whatsapp.to_string();
            let wa_headers = [
                ("content-type", "application/json"),
                ("x-hub-signature-256", wa_signature.as_str()),
            ];
            match inlet_simulators::post(&wa_url, &wa_headers, body).await {
                Ok((status, _, _)) => tracing::info!(status, "demo: a customer wrote on WhatsApp"),
                Err(e) => tracing::warn!("demo: WhatsApp delivery failed: {e}"),
            }
            let base = app.public_base_url.clone();
            // As Meta delivers for a Page: JSON signed with the app secret.
            let fb_headers = [
                ("content-type", "application/json"),
                ("x-hub-signature-256", fb_signature.as_str()),
            ];
            match inlet_simulators::post(
                &format!("{base}/webhooks/messenger-demo"),
                &fb_headers,
                messenger,
            )
            .await
            {
                Ok((status, _, _)) => tracing::info!(status, "demo: a customer wrote on Messenger"),
                Err(e) => tracing::warn!("demo: Messenger delivery failed: {e}"),
            }
            // As Telegram delivers: JSON with the secret-token header.
            let tg_headers = [
                ("content-type", "application/json"),
                ("x-telegram-bot-api-secret-token", TELEGRAM_SECRET),
            ];
            match inlet_simulators::post(
                &format!("{base}/webhooks/telegram-demo"),
                &tg_headers,
                update.to_string(),
            )
            .await
            {
                Ok((status, _, _)) => tracing::info!(status, "demo: a customer wrote on Telegram"),
                Err(e) => tracing::warn!("demo: Telegram delivery failed: {e}"),
            }
            // As Twilio delivers: a signed form post.
            let url = format!("{base}/webhooks/sms-demo");
            let signature = inlet_simulators::twilio::signature(TWILIO_TOKEN, &url, &sms);
            let sms_headers = [
                ("content-type", "application/x-www-form-urlencoded"),
                ("x-twilio-signature", signature.as_str()),
            ];
            match inlet_simulators::post(&url, &sms_headers, inlet_simulators::form_encode(&sms))
                .await
            {
                Ok((status, _, _)) => tracing::info!(status, "demo: a customer wrote by SMS"),
                Err(e) => tracing::warn!("demo: SMS delivery failed: {e}"),
            }
        })
    }
}
