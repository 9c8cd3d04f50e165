//! Telegram Bot API simulator ([`TelegramSim`]): the `POST /bot<token>/<method>` API
//! (`sendMessage`, `sendPhoto`, `sendDocument`, `answerCallbackQuery`, `getFile`) with
//! Telegram's validation and error bodies, file downloads at `GET /file/bot<token>/<path>`,
//! builders for real `Update` payloads, and webhook delivery with
//! `X-Telegram-Bot-Api-Secret-Token`.
//!
//! Faults ([`crate::Faults`]) answer as Telegram does: a rate limit is 429 with
//! `parameters.retry_after`, a server error the status given, down is 503.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use serde::Serialize;
use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256};

use crate::server::{
    bytes_response, form_decode, json_response, lock, post, reason_phrase, unix_now, Control,
    Fault, Gate, Handler, Server, SimRequest,
};

/// First name of the simulated bot user.
pub const BOT_FIRST_NAME: &str = "Inlet Test Bot";
/// Username of the simulated bot user.
pub const BOT_USERNAME: &str = "inlet_test_bot";
/// Longest `text` accepted by `sendMessage`, in UTF-16 code units.
pub const MAX_TEXT_LEN: usize = 4096;
/// Longest `caption` accepted, in UTF-16 code units.
pub const MAX_CAPTION_LEN: usize = 1024;
/// Longest `callback_data` accepted, in bytes.
pub const MAX_CALLBACK_DATA_BYTES: usize = 64;

const INVALID_QUERY: &str = "query is too old and response timeout expired or query ID is invalid";

/// One accepted `sendMessage` / `sendPhoto` / `sendDocument` call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentMessage {
    /// The method as called (case preserved), e.g. `sendMessage`.
    pub method: String,
    /// The chat the message went to.
    pub chat_id: i64,
    /// The full request body as a JSON object (form bodies become an object of strings).
    pub body: Value,
    /// The `message_id` assigned to the sent message.
    pub message_id: i64,
}

/// An in-process Telegram Bot API. Stops when dropped.
#[derive(Debug)]
pub struct TelegramSim {
    state: Arc<State>,
    server: Server,
}

#[derive(Debug)]
struct State {
    token: String,
    bot: Value,
    control: Control,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    chats: HashMap<i64, Chat>,
    blocked: HashSet<i64>,
    users: HashMap<i64, String>,
    files: HashMap<String, FileEntry>,
    sent: Vec<SentMessage>,
    answered: Vec<String>,
    pending_callbacks: HashSet<String>,
    generated: u64,
}

#[derive(Debug, Default)]
struct Chat {
    last_message_id: i64,
    messages: BTreeMap<i64, Value>,
    first_name: Option<String>,
}

#[derive(Debug, Clone)]
struct FileEntry {
    file_path: String,
    bytes: Bytes,
}

/// A Bot API error: HTTP status = `error_code`.
#[derive(Debug)]
struct ApiError {
    code: u16,
    description: String,
    parameters: Option<Value>,
}

impl ApiError {
    fn new(code: u16, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            parameters: None,
        }
    }

    fn response(&self) -> Response<Full<Bytes>> {
        let mut body = json!({
            "ok": false,
            "error_code": self.code,
            "description": self.description,
        });
        if let (Some(parameters), Some(obj)) = (&self.parameters, body.as_object_mut()) {
            obj.insert("parameters".into(), parameters.clone());
        }
        json_response(self.code, &body)
    }
}

fn bad(description: &str) -> ApiError {
    ApiError::new(400, format!("Bad Request: {description}"))
}

fn not_found() -> ApiError {
    ApiError::new(404, "Not Found")
}

fn unauthorized() -> ApiError {
    ApiError::new(401, "Unauthorized")
}

type Params = Map<String, Value>;

impl TelegramSim {
    /// Starts a Bot API for the bot with this token (e.g. `123456:ABC-DEF`). The bot's user id
    /// is the token's numeric prefix when it has one.
    pub async fn start(bot_token: &str) -> anyhow::Result<Self> {
        let bot_id: i64 = bot_token
            .split(':')
            .next()
            .and_then(|id| id.parse().ok())
            .unwrap_or(1_000_000_001);
        let state = Arc::new(State {
            token: bot_token.to_string(),
            bot: json!({
                "id": bot_id,
                "is_bot": true,
                "first_name": BOT_FIRST_NAME,
                "username": BOT_USERNAME,
            }),
            control: Control::default(),
            inner: Mutex::new(Inner::default()),
        });
        let handler_state = state.clone();
        let handler: Handler = Arc::new(move |req| {
            let state = handler_state.clone();
            Box::pin(async move { state.handle(req).await })
        });
        let server = Server::start(handler).await?;
        Ok(Self { state, server })
    }

    /// `http://127.0.0.1:<port>`; the API is at `{base_url}/bot<token>/<method>`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The bot token this simulator accepts.
    pub fn token(&self) -> &str {
        &self.state.token
    }

    /// The bot's `User` object as it appears in `from` of the bot's messages.
    pub fn bot_user(&self) -> Value {
        self.state.bot.clone()
    }

    /// Registers a private chat: the user has started the bot, so it may message them.
    pub fn add_chat(&self, chat_id: i64) {
        lock(&self.state.inner).chats.entry(chat_id).or_default();
    }

    /// The user blocked the bot: sends to this chat get 403.
    pub fn block_chat(&self, chat_id: i64) {
        lock(&self.state.inner).blocked.insert(chat_id);
    }

    /// The user unblocked the bot.
    pub fn unblock_chat(&self, chat_id: i64) {
        lock(&self.state.inner).blocked.remove(&chat_id);
    }

    /// Registers a file for `getFile` and download at `/file/bot<token>/<file_path>`.
    pub fn add_file(&self, file_id: &str, file_path: &str, bytes: impl Into<Bytes>) {
        lock(&self.state.inner).files.insert(
            file_id.to_string(),
            FileEntry {
                file_path: file_path.to_string(),
                bytes: bytes.into(),
            },
        );
    }

    /// Accepted sends, in order.
    pub fn sent(&self) -> Vec<SentMessage> {
        lock(&self.state.inner).sent.clone()
    }

    /// `callback_query_id`s answered with `answerCallbackQuery`, in order.
    pub fn answered_callbacks(&self) -> Vec<String> {
        lock(&self.state.inner).answered.clone()
    }

    /// The stored `Message` with this id in this chat (sent by the bot or built by an
    /// `update_*` builder).
    pub fn message(&self, chat_id: i64, message_id: i64) -> Option<Value> {
        lock(&self.state.inner)
            .chats
            .get(&chat_id)
            .and_then(|chat| chat.messages.get(&message_id).cloned())
    }

    /// A text message `Update` from a user. Registers the chat (the user wrote to the bot) and
    /// assigns the next `message_id` of the chat. Texts starting with `/` get a `bot_command`
    /// entity, as Telegram sends them.
    pub fn update_text(
        &self,
        update_id: i64,
        chat_id: i64,
        user_id: i64,
        first_name: &str,
        text: &str,
    ) -> Value {
        let mut inner = lock(&self.state.inner);
        inner.users.insert(user_id, first_name.to_string());
        let mut message = inner.user_message(chat_id, user_id);
        message.insert("text".into(), json!(text));
        if let Some(entity) = command_entity(text) {
            message.insert("entities".into(), json!([entity]));
        }
        let message = inner.store_message(chat_id, message);
        json!({ "update_id": update_id, "message": message })
    }

    /// A photo message `Update`: `photo` has 3 sizes, the largest last with `file_id` (the
    /// smaller ones get derived ids and are registered as their own thumbnail files).
    pub fn update_photo(
        &self,
        update_id: i64,
        chat_id: i64,
        user_id: i64,
        file_id: &str,
        caption: Option<&str>,
    ) -> Value {
        let mut inner = lock(&self.state.inner);
        let sizes = inner.photo_sizes(file_id);
        let mut message = inner.user_message(chat_id, user_id);
        message.insert("photo".into(), sizes);
        if let Some(caption) = caption {
            message.insert("caption".into(), json!(caption));
        }
        let message = inner.store_message(chat_id, message);
        json!({ "update_id": update_id, "message": message })
    }

    /// A document message `Update`.
    #[allow(clippy::too_many_arguments)]
    pub fn update_document(
        &self,
        update_id: i64,
        chat_id: i64,
        user_id: i64,
        file_id: &str,
        file_name: &str,
        mime_type: &str,
        caption: Option<&str>,
    ) -> Value {
        let mut inner = lock(&self.state.inner);
        let size = inner.files.get(file_id).map_or(0, |f| f.bytes.len());
        let mut message = inner.user_message(chat_id, user_id);
        message.insert(
            "document".into(),
            json!({
                "file_name": file_name,
                "mime_type": mime_type,
                "file_id": file_id,
                "file_unique_id": unique_id(file_id),
                "file_size": size,
            }),
        );
        if let Some(caption) = caption {
            message.insert("caption".into(), json!(caption));
        }
        let message = inner.store_message(chat_id, message);
        json!({ "update_id": update_id, "message": message })
    }

    /// An `edited_message` `Update`: the user edited message `message_id` to `new_text`. Keeps
    /// the original `date` when the message is known and updates the stored text.
    pub fn update_edited_text(
        &self,
        update_id: i64,
        chat_id: i64,
        user_id: i64,
        message_id: i64,
        new_text: &str,
    ) -> Value {
        let mut inner = lock(&self.state.inner);
        let now = unix_now();
        let from = inner.user_json(user_id);
        let chat_json = inner.chat_json(chat_id);
        let chat = inner.chats.entry(chat_id).or_default();
        let date = chat
            .messages
            .get(&message_id)
            .and_then(|m| m.get("date").cloned())
            .unwrap_or_else(|| json!(now));
        let mut message = json!({
            "message_id": message_id,
            "from": from,
            "chat": chat_json,
            "date": date,
            "edit_date": now,
            "text": new_text,
        });
        if let (Some(entity), Some(obj)) = (command_entity(new_text), message.as_object_mut()) {
            obj.insert("entities".into(), json!([entity]));
        }
        if let Some(stored) = chat
            .messages
            .get_mut(&message_id)
            .and_then(|m| m.as_object_mut())
        {
            stored.insert("text".into(), json!(new_text));
            stored.insert("edit_date".into(), json!(now));
        }
        json!({ "update_id": update_id, "edited_message": message })
    }

    /// A `callback_query` `Update`: the user tapped an inline button with `data` under the bot
    /// message `message_id`. The query's `message` is the stored bot message when its keyboard
    /// has a button with that data; otherwise a message whose `inline_keyboard` has one button
    /// `{"text": "Option <data>", "callback_data": data}`. The id becomes answerable.
    pub fn update_callback(
        &self,
        update_id: i64,
        chat_id: i64,
        user_id: i64,
        callback_id: &str,
        data: &str,
        message_id: i64,
    ) -> Value {
        let mut inner = lock(&self.state.inner);
        let from = inner.user_json(user_id);
        let chat_json = inner.chat_json(chat_id);
        let stored = inner
            .chats
            .get(&chat_id)
            .and_then(|chat| chat.messages.get(&message_id).cloned());
        let message = match stored {
            Some(message) if keyboard_has_data(&message, data) => message,
            Some(mut message) => {
                if let Some(obj) = message.as_object_mut() {
                    obj.insert("reply_markup".into(), option_keyboard(data));
                }
                message
            }
            None => json!({
                "message_id": message_id,
                "from": self.state.bot,
                "chat": chat_json,
                "date": unix_now(),
                "text": "Choose an option",
                "reply_markup": option_keyboard(data),
            }),
        };
        inner.pending_callbacks.insert(callback_id.to_string());
        json!({
            "update_id": update_id,
            "callback_query": {
                "id": callback_id,
                "from": from,
                "message": message,
                "chat_instance": chat_instance(chat_id),
                "data": data,
            }
        })
    }

    /// POSTs an update to the system under test as Telegram does, with
    /// `X-Telegram-Bot-Api-Secret-Token` when `secret_token` is given. Returns (status, body).
    pub async fn deliver(
        &self,
        url: &str,
        secret_token: Option<&str>,
        update: &Value,
    ) -> anyhow::Result<(u16, String)> {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(secret) = secret_token {
            headers.push(("x-telegram-bot-api-secret-token", secret));
        }
        let (status, _, body) = post(url, &headers, update.to_string()).await?;
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }
}

fn command_entity(text: &str) -> Option<Value> {
    if !text.starts_with('/') {
        return None;
    }
    let command = text.split_whitespace().next().unwrap_or(text);
    Some(json!({
        "offset": 0,
        "length": command.encode_utf16().count(),
        "type": "bot_command",
    }))
}

fn option_keyboard(data: &str) -> Value {
    json!({ "inline_keyboard": [[{ "text": format!("Option {data}"), "callback_data": data }]] })
}

fn keyboard_has_data(message: &Value, data: &str) -> bool {
    message
        .pointer("/reply_markup/inline_keyboard")
        .and_then(Value::as_array)
        .is_some_and(|rows| {
            rows.iter()
                .filter_map(Value::as_array)
                .flatten()
                .any(|button| button.get("callback_data").and_then(Value::as_str) == Some(data))
        })
}

fn unique_id(file_id: &str) -> String {
    let digest = Sha256::digest(file_id.as_bytes());
    format!("AQAD{}", hex::encode(&digest[..8]))
}

fn chat_instance(chat_id: i64) -> String {
    let digest = Sha256::digest(chat_id.to_string().as_bytes());
    let mut n = [0u8; 8];
    n.copy_from_slice(&digest[..8]);
    (i64::from_be_bytes(n) >> 1).to_string()
}

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

impl Inner {
    fn user_json(&self, user_id: i64) -> Value {
        let first_name = self.users.get(&user_id).map_or("Test User", String::as_str);
        json!({
            "id": user_id,
            "is_bot": false,
            "first_name": first_name,
            "language_code": "en",
        })
    }

    fn chat_json(&self, chat_id: i64) -> Value {
        let mut chat = json!({ "id": chat_id, "type": "private" });
        if let (Some(name), Some(obj)) = (
            self.chats.get(&chat_id).and_then(|c| c.first_name.clone()),
            chat.as_object_mut(),
        ) {
            obj.insert("first_name".into(), json!(name));
        }
        chat
    }

    /// A new message from a user in a chat (registering the chat); `message_id` assigned.
    fn user_message(&mut self, chat_id: i64, user_id: i64) -> Params {
        let name = self.users.get(&user_id).cloned();
        let chat = self.chats.entry(chat_id).or_default();
        if chat.first_name.is_none() {
            chat.first_name = name;
        }
        chat.last_message_id += 1;
        let message_id = chat.last_message_id;
        let mut message = Map::new();
        message.insert("message_id".into(), json!(message_id));
        message.insert("from".into(), self.user_json(user_id));
        message.insert("chat".into(), self.chat_json(chat_id));
        message.insert("date".into(), json!(unix_now()));
        message
    }

    fn store_message(&mut self, chat_id: i64, message: Params) -> Value {
        let message = Value::Object(message);
        let id = message
            .get("message_id")
            .and_then(Value::as_i64)
            .unwrap_or_default();
        self.chats
            .entry(chat_id)
            .or_default()
            .messages
            .insert(id, message.clone());
        message
    }

    /// Three `PhotoSize`s, largest last with `file_id`; registers the thumbnails.
    fn photo_sizes(&mut self, file_id: &str) -> Value {
        let size = self.files.get(file_id).map_or(0, |f| f.bytes.len());
        let mut sizes = Vec::new();
        for (suffix, width, height) in [("s", 90, 68), ("m", 320, 240)] {
            let thumb_id = format!("{file_id}-{suffix}");
            let bytes = Bytes::from(format!("thumbnail {width}x{height} of {file_id}"));
            sizes.push(json!({
                "file_id": thumb_id,
                "file_unique_id": unique_id(&thumb_id),
                "file_size": bytes.len(),
                "width": width,
                "height": height,
            }));
            self.files.entry(thumb_id.clone()).or_insert(FileEntry {
                file_path: format!("photos/{thumb_id}.jpg"),
                bytes,
            });
        }
        sizes.push(json!({
            "file_id": file_id,
            "file_unique_id": unique_id(file_id),
            "file_size": size,
            "width": 1280,
            "height": 960,
        }));
        Value::Array(sizes)
    }

    /// Resolves `photo`/`document` given as a known `file_id` or an HTTP URL.
    fn resolve_input_file(&mut self, input: &str, kind: &str) -> Result<String, ApiError> {
        if self.files.contains_key(input) {
            return Ok(input.to_string());
        }
        if input.starts_with("http://") || input.starts_with("https://") {
            self.generated += 1;
            let file_id = format!("BQACAgIAAxkBAAI{}{:06}", kind, self.generated);
            let name = input
                .rsplit('/')
                .next()
                .filter(|n| !n.is_empty())
                .unwrap_or("file");
            self.files.insert(
                file_id.clone(),
                FileEntry {
                    file_path: format!("{kind}s/file_{}_{name}", self.generated),
                    bytes: Bytes::new(),
                },
            );
            return Ok(file_id);
        }
        Err(bad("wrong file identifier/HTTP URL specified"))
    }
}

impl State {
    async fn handle(self: Arc<Self>, req: SimRequest) -> Response<Full<Bytes>> {
        let path = req.uri.path().to_string();
        if let Some(rest) = path.strip_prefix("/file/bot") {
            return self.download(rest);
        }
        let Some(rest) = path.strip_prefix("/bot") else {
            return not_found().response();
        };
        if self.control.count_api_call() {
            return ApiError::new(503, "Service Unavailable").response();
        }
        let (token, method) = rest.split_once('/').unwrap_or((rest, ""));
        if token != self.token {
            return unauthorized().response();
        }
        let method = method.to_string();
        let known = matches!(
            method.to_ascii_lowercase().as_str(),
            "sendmessage" | "sendphoto" | "senddocument" | "answercallbackquery" | "getfile"
        );
        if !known {
            return not_found().response();
        }
        match self.control.take_fault() {
            Gate::Proceed => {}
            Gate::Fault(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
            Gate::Fault(Fault::RateLimit { retry_after_secs }) => {
                let mut err = ApiError::new(
                    429,
                    format!("Too Many Requests: retry after {retry_after_secs}"),
                );
                err.parameters = Some(json!({ "retry_after": retry_after_secs }));
                return err.response();
            }
            Gate::Fault(Fault::ServerError(status)) => {
                return ApiError::new(status, reason_phrase(status)).response();
            }
        }
        let result = parse_params(&req).and_then(|params| self.call(&method, params));
        match result {
            Ok(result) => json_response(200, &json!({ "ok": true, "result": result })),
            Err(err) => err.response(),
        }
    }

    fn download(&self, rest: &str) -> Response<Full<Bytes>> {
        let (token, file_path) = rest.split_once('/').unwrap_or((rest, ""));
        if token != self.token {
            return unauthorized().response();
        }
        let inner = lock(&self.inner);
        match inner.files.values().find(|f| f.file_path == file_path) {
            Some(file) => bytes_response(guess_mime(file_path), file.bytes.clone()),
            None => not_found().response(),
        }
    }

    fn call(&self, method: &str, params: Params) -> Result<Value, ApiError> {
        match method.to_ascii_lowercase().as_str() {
            "sendmessage" => self.send(method, params, SendKind::Text),
            "sendphoto" => self.send(method, params, SendKind::Photo),
            "senddocument" => self.send(method, params, SendKind::Document),
            "answercallbackquery" => self.answer_callback(&params),
            "getfile" => self.get_file(&params),
            _ => Err(not_found()),
        }
    }

    fn send(&self, method: &str, params: Params, kind: SendKind) -> Result<Value, ApiError> {
        let mut inner = lock(&self.inner);
        let chat_id = resolve_chat(&inner, &params)?;
        if inner.blocked.contains(&chat_id) {
            return Err(ApiError::new(403, "Forbidden: bot was blocked by the user"));
        }
        let mut message = Map::new();
        match kind {
            SendKind::Text => {
                let text = str_param(&params, "text").unwrap_or_default();
                if text.trim().is_empty() {
                    return Err(bad("message text is empty"));
                }
                if utf16_len(&text) > MAX_TEXT_LEN {
                    return Err(bad("message is too long"));
                }
                message.insert("text".into(), json!(text));
            }
            SendKind::Photo | SendKind::Document => {
                if let Some(caption) = str_param(&params, "caption") {
                    if utf16_len(&caption) > MAX_CAPTION_LEN {
                        return Err(bad("message caption is too long"));
                    }
                }
            }
        }
        check_parse_mode(&params)?;
        let markup = validate_markup(&params)?;
        let reply_to = {
            let chat = inner.chats.get(&chat_id);
            resolve_reply(chat, &params)?
        };
        match kind {
            SendKind::Text => {}
            SendKind::Photo => {
                let input = str_param(&params, "photo")
                    .filter(|p| !p.is_empty())
                    .ok_or_else(|| bad("there is no photo in the request"))?;
                let file_id = inner.resolve_input_file(&input, "photo")?;
                let sizes = inner.photo_sizes(&file_id);
                message.insert("photo".into(), sizes);
            }
            SendKind::Document => {
                let input = str_param(&params, "document")
                    .filter(|p| !p.is_empty())
                    .ok_or_else(|| bad("there is no document in the request"))?;
                let file_id = inner.resolve_input_file(&input, "document")?;
                let (name, size) = inner.files.get(&file_id).map_or_else(
                    || ("file".to_string(), 0),
                    |f| {
                        let name = f.file_path.rsplit('/').next().unwrap_or("file");
                        (name.to_string(), f.bytes.len())
                    },
                );
                message.insert(
                    "document".into(),
                    json!({
                        "file_name": name,
                        "mime_type": guess_mime(&name),
                        "file_id": file_id,
                        "file_unique_id": unique_id(&file_id),
                        "file_size": size,
                    }),
                );
            }
        }
        if !matches!(kind, SendKind::Text) {
            if let Some(caption) = str_param(&params, "caption").filter(|c| !c.is_empty()) {
                message.insert("caption".into(), json!(caption));
            }
        }
        if let Some(reply_to) = reply_to {
            message.insert("reply_to_message".into(), reply_to);
        }
        if let Some(markup) = markup {
            message.insert("reply_markup".into(), markup);
        }

        let chat_json = inner.chat_json(chat_id);
        let chat = inner.chats.entry(chat_id).or_default();
        chat.last_message_id += 1;
        let message_id = chat.last_message_id;
        let mut full = Map::new();
        full.insert("message_id".into(), json!(message_id));
        full.insert("from".into(), self.bot.clone());
        full.insert("chat".into(), chat_json);
        full.insert("date".into(), json!(unix_now()));
        full.extend(message);
        let full = Value::Object(full);
        chat.messages.insert(message_id, full.clone());
        inner.sent.push(SentMessage {
            method: method.to_string(),
            chat_id,
            body: Value::Object(params),
            message_id,
        });
        Ok(full)
    }

    fn answer_callback(&self, params: &Params) -> Result<Value, ApiError> {
        let id = str_param(params, "callback_query_id").unwrap_or_default();
        let mut inner = lock(&self.inner);
        if !inner.pending_callbacks.remove(&id) {
            return Err(bad(INVALID_QUERY));
        }
        inner.answered.push(id);
        Ok(json!(true))
    }

    fn get_file(&self, params: &Params) -> Result<Value, ApiError> {
        let id = str_param(params, "file_id").unwrap_or_default();
        let inner = lock(&self.inner);
        let file = inner.files.get(&id).ok_or_else(|| bad("invalid file_id"))?;
        Ok(json!({
            "file_id": id,
            "file_unique_id": unique_id(&id),
            "file_size": file.bytes.len(),
            "file_path": file.file_path,
        }))
    }
}

#[derive(Debug, Clone, Copy)]
enum SendKind {
    Text,
    Photo,
    Document,
}

/// Request parameters: query string, then a JSON or form body (body wins).
fn parse_params(req: &SimRequest) -> Result<Params, ApiError> {
    let mut params = Params::new();
    if let Some(query) = req.uri.query() {
        for (k, v) in form_decode(query.as_bytes()) {
            params.insert(k, Value::String(v));
        }
    }
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(params);
    }
    match req.media_type().as_str() {
        "application/json" => match serde_json::from_slice::<Value>(&req.body) {
            Ok(Value::Object(obj)) => params.extend(obj),
            _ => return Err(bad("can't parse JSON request body")),
        },
        "application/x-www-form-urlencoded" => {
            for (k, v) in form_decode(&req.body) {
                params.insert(k, Value::String(v));
            }
        }
        other => {
            return Err(bad(&format!(
                "unsupported content type {other:?} (the simulator accepts application/json \
                 and application/x-www-form-urlencoded)"
            )))
        }
    }
    Ok(params)
}

/// A scalar parameter as text (numbers and booleans stringified).
fn str_param(params: &Params, key: &str) -> Option<String> {
    match params.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A parameter that is a JSON object, possibly sent as a JSON-encoded string (form style).
fn json_param(params: &Params, key: &str, parse_error: &str) -> Result<Option<Value>, ApiError> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => serde_json::from_str(s)
            .map(Some)
            .map_err(|_| bad(parse_error)),
        Some(other) => Ok(Some(other.clone())),
    }
}

fn as_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn resolve_chat(inner: &Inner, params: &Params) -> Result<i64, ApiError> {
    let chat_id = match params.get("chat_id") {
        None | Some(Value::Null) => return Err(bad("chat_id is empty")),
        Some(Value::String(s)) if s.trim().is_empty() => return Err(bad("chat_id is empty")),
        Some(value) => as_i64(value).ok_or_else(|| bad("chat not found"))?,
    };
    if inner.chats.contains_key(&chat_id) {
        Ok(chat_id)
    } else {
        Err(bad("chat not found"))
    }
}

fn check_parse_mode(params: &Params) -> Result<(), ApiError> {
    match str_param(params, "parse_mode") {
        None => Ok(()),
        Some(mode)
            if mode.is_empty()
                || ["markdown", "markdownv2", "html"]
                    .contains(&mode.to_ascii_lowercase().as_str()) =>
        {
            Ok(())
        }
        Some(_) => Err(bad("unsupported parse_mode")),
    }
}

/// Validates `reply_markup`; returns the markup to echo in the `Message` (Telegram echoes only
/// inline keyboards: reply keyboards, `remove_keyboard` and `force_reply` are not part of
/// `Message.reply_markup`).
fn validate_markup(params: &Params) -> Result<Option<Value>, ApiError> {
    const PARSE: &str = "can't parse reply keyboard markup JSON object";
    let Some(markup) = json_param(params, "reply_markup", PARSE)? else {
        return Ok(None);
    };
    let Value::Object(markup) = markup else {
        return Err(bad(PARSE));
    };
    let Some(keyboard) = markup.get("inline_keyboard") else {
        return Ok(None);
    };
    let Value::Array(rows) = keyboard else {
        return Err(bad(
            "field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array",
        ));
    };
    for row in rows {
        let Value::Array(buttons) = row else {
            return Err(bad(
                "field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays",
            ));
        };
        for button in buttons {
            validate_button(button)?;
        }
    }
    Ok(Some(json!({ "inline_keyboard": keyboard })))
}

fn validate_button(button: &Value) -> Result<(), ApiError> {
    const OTHER_KINDS: [&str; 8] = [
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    ];
    let Value::Object(button) = button else {
        return Err(bad(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object",
        ));
    };
    if !matches!(button.get("text"), Some(Value::String(_))) {
        return Err(bad(
            "can't parse inline keyboard button: Field \"text\" must be of type String",
        ));
    }
    if let Some(data) = button.get("callback_data") {
        let len = data.as_str().map_or(0, str::len);
        if !(1..=MAX_CALLBACK_DATA_BYTES).contains(&len) {
            return Err(bad("BUTTON_DATA_INVALID"));
        }
        return Ok(());
    }
    if let Some(url) = button.get("url") {
        if url.as_str().is_none_or(str::is_empty) {
            return Err(bad("BUTTON_URL_INVALID"));
        }
        return Ok(());
    }
    if OTHER_KINDS.iter().any(|k| button.contains_key(*k)) {
        return Ok(());
    }
    Err(bad(
        "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
    ))
}

/// Resolves `reply_parameters` (or legacy `reply_to_message_id`) to the replied message.
fn resolve_reply(chat: Option<&Chat>, params: &Params) -> Result<Option<Value>, ApiError> {
    let (message_id, allow_without) = match json_param(
        params,
        "reply_parameters",
        "can't parse reply parameters JSON object",
    )? {
        Some(reply) => (
            reply.get("message_id").and_then(as_i64),
            reply
                .get("allow_sending_without_reply")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ),
        None => match params.get("reply_to_message_id") {
            None | Some(Value::Null) => return Ok(None),
            Some(id) => (
                as_i64(id),
                params
                    .get("allow_sending_without_reply")
                    .is_some_and(|v| v.as_bool() == Some(true) || v.as_str() == Some("true")),
            ),
        },
    };
    let found = message_id.and_then(|id| chat.and_then(|c| c.messages.get(&id)).cloned());
    match found {
        Some(mut message) => {
            if let Some(obj) = message.as_object_mut() {
                obj.remove("reply_to_message");
            }
            Ok(Some(message))
        }
        None if allow_without => Ok(None),
        None => Err(bad("message to be replied not found")),
    }
}

fn guess_mime(path: &str) -> &'static str {
    let ext = path.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "zip" => "application/zip",
        "mp4" => "video/mp4",
        "ogg" | "oga" => "audio/ogg",
        _ => "application/octet-stream",
    }
}

impl crate::server::Faults for TelegramSim {
    fn control(&self) -> &crate::server::Control {
        &self.state.control
    }
}
