//! In-process HTTP simulators of the provider APIs that Inlet's channel plugins talk to.
//!
//! Each simulator binds `127.0.0.1:0`, speaks the provider's real wire format, verifies
//! credentials and validates request bodies the way the provider does, and answers with the
//! provider's real error shapes. They also play the provider's side of webhooks: building real
//! payloads and delivering them (signed where the provider signs) to the system under test.
//!
//! - [`telegram::TelegramSim`]: Telegram Bot API.
//! - [`twilio::TwilioSim`]: Twilio Programmable Messaging (SMS/MMS).
//! - [`messenger::MessengerSim`]: Facebook Messenger Send API (Graph `me/messages`).
//! - [`whatsapp::WhatsAppSim`]: WhatsApp Business Cloud API (Graph `messages`).
//! - [`server`]: the shared scaffold (HTTP server, fault injection, a small HTTP client).

pub mod graph;
pub mod messenger;
pub mod server;
pub mod telegram;
pub mod twilio;
pub mod whatsapp;

pub use messenger::{MessengerSim, SentMessenger};
pub use server::{form_decode, form_encode, post, request, Fault, Faults, HttpResponse};
pub use telegram::{SentMessage, TelegramSim};
pub use twilio::{SentSms, TwilioSim};
pub use whatsapp::{SentWhatsApp, WhatsAppSim};
