//! Every key the inbox stores, in one place. Tenant data lives under `T\0{tenant}\0...`, so a
//! scan of one tenant's prefix can never see another's, and deleting a tenant is deleting a
//! prefix. Operator-level records (tenants, tokens, the channel routing table, the outbox
//! schedule) live under `O\0...`. Numbers are zero-padded so byte order is numeric order.

const SEP: char = '\u{0}';

fn join(parts: &[&str]) -> Vec<u8> {
    let mut s = String::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            s.push(SEP);
        }
        s.push_str(p);
    }
    s.into_bytes()
}

/// A prefix for scans: the parts followed by the separator.
fn prefix(parts: &[&str]) -> Vec<u8> {
    let mut k = join(parts);
    k.push(SEP as u8);
    k
}

pub fn pad(n: u64) -> String {
    format!("{n:020}")
}

// ---- operator level

pub const SCHEMA: &[u8] = b"O\0schema-version";

pub fn tenant(id: &str) -> Vec<u8> {
    join(&["O", "tenant", id])
}
pub fn tenants() -> Vec<u8> {
    prefix(&["O", "tenant"])
}
pub fn token(hash: &str) -> Vec<u8> {
    join(&["O", "token", hash])
}
pub fn tokens() -> Vec<u8> {
    prefix(&["O", "token"])
}
/// Global routing: channel id → tenant (webhook URLs carry only the channel id).
pub fn channel_route(channel: &str) -> Vec<u8> {
    join(&["O", "channel", channel])
}
pub fn channel_routes() -> Vec<u8> {
    prefix(&["O", "channel"])
}
pub fn outbox(due_ms: u64, tenant: &str, message_key: &str) -> Vec<u8> {
    join(&["O", "outbox", &pad(due_ms), tenant, message_key])
}
pub fn outbox_all() -> Vec<u8> {
    prefix(&["O", "outbox"])
}

// ---- tenant level

pub fn tenant_all(t: &str) -> Vec<u8> {
    prefix(&["T", t])
}
pub fn channel(t: &str, id: &str) -> Vec<u8> {
    join(&["T", t, "channel", id])
}
pub fn channels(t: &str) -> Vec<u8> {
    prefix(&["T", t, "channel"])
}
pub fn contact(t: &str, id: &str) -> Vec<u8> {
    join(&["T", t, "contact", id])
}
pub fn contacts(t: &str) -> Vec<u8> {
    prefix(&["T", t, "contact"])
}
pub fn identity(t: &str, channel: &str, provider_user: &str) -> Vec<u8> {
    join(&["T", t, "ident", channel, provider_user])
}
pub fn case(t: &str, id: &str) -> Vec<u8> {
    join(&["T", t, "case", id])
}
pub fn conversation(t: &str, channel: &str, conversation: &str) -> Vec<u8> {
    join(&["T", t, "conv", channel, conversation])
}
/// Inbox order: status, then priority (1 first), then age (oldest first).
pub fn inbox(t: &str, status: &str, sort: &str) -> Vec<u8> {
    let mut k = prefix(&["T", t, "inbox", status]);
    k.extend_from_slice(sort.as_bytes());
    k
}
pub fn inbox_status(t: &str, status: &str) -> Vec<u8> {
    prefix(&["T", t, "inbox", status])
}
pub fn sort_key(priority: u8, created_ms: u64, case_id: &str) -> String {
    format!("{priority}{SEP}{}{SEP}{case_id}", pad(created_ms))
}
pub fn message(t: &str, case_id: &str, seq: u64) -> Vec<u8> {
    join(&["T", t, "msg", case_id, &pad(seq)])
}
pub fn messages(t: &str, case_id: &str) -> Vec<u8> {
    prefix(&["T", t, "msg", case_id])
}
pub fn dedupe(t: &str, channel: &str, provider_id: &str) -> Vec<u8> {
    join(&["T", t, "dedupe", channel, provider_id])
}
/// Provider message id → our message key (receipts, edits).
pub fn provider_message(t: &str, channel: &str, provider_id: &str) -> Vec<u8> {
    join(&["T", t, "pmsg", channel, provider_id])
}
/// A receipt for a message we do not know (yet), filed under the message it refers to.
pub fn orphan_receipt(t: &str, channel: &str, message_ref: &str, provider_id: &str) -> Vec<u8> {
    join(&["T", t, "orphan", channel, message_ref, provider_id])
}
/// The receipts waiting for one message.
pub fn orphans_for(t: &str, channel: &str, message_ref: &str) -> Vec<u8> {
    prefix(&["T", t, "orphan", channel, message_ref])
}
/// The choices the customer was last offered in a case (typed answers map back through them).
pub fn offered(t: &str, case_id: &str) -> Vec<u8> {
    join(&["T", t, "offered", case_id])
}
/// Outbound messages that failed for good: the dead-letter list.
pub fn dead_letter(t: &str, message_key: &str) -> Vec<u8> {
    join(&["T", t, "dead", message_key])
}
pub fn dead_letters(t: &str) -> Vec<u8> {
    prefix(&["T", t, "dead"])
}
/// Saved rich messages.
pub fn rich_message(t: &str, id: &str) -> Vec<u8> {
    join(&["T", t, "richmsg", id])
}
pub fn rich_messages(t: &str) -> Vec<u8> {
    prefix(&["T", t, "richmsg"])
}
pub fn note(t: &str, case_id: &str, id: &str) -> Vec<u8> {
    join(&["T", t, "note", case_id, id])
}
pub fn notes(t: &str, case_id: &str) -> Vec<u8> {
    prefix(&["T", t, "note", case_id])
}
pub fn term(t: &str, term: &str, case_id: &str, seq: u64) -> Vec<u8> {
    join(&["T", t, "fts", term, case_id, &pad(seq)])
}
pub fn term_prefix(t: &str, term: &str) -> Vec<u8> {
    prefix(&["T", t, "fts", term])
}
pub fn journal(t: &str, seq: u64) -> Vec<u8> {
    join(&["T", t, "journal", &pad(seq)])
}
pub fn journals(t: &str) -> Vec<u8> {
    prefix(&["T", t, "journal"])
}
pub fn agent(t: &str, id: &str) -> Vec<u8> {
    join(&["T", t, "agent", id])
}
pub fn agents(t: &str) -> Vec<u8> {
    prefix(&["T", t, "agent"])
}
pub fn skill(t: &str, id: &str) -> Vec<u8> {
    join(&["T", t, "skill", id])
}
pub fn skills(t: &str) -> Vec<u8> {
    prefix(&["T", t, "skill"])
}
/// Script versions: `script/{id}/{version}` (the newest is the last).
pub fn script_version(t: &str, id: &str, version: u32) -> Vec<u8> {
    join(&["T", t, "script", id, &pad(version as u64)])
}
pub fn script_versions(t: &str, id: &str) -> Vec<u8> {
    prefix(&["T", t, "script", id])
}
/// A copy of each script's newest version, written with it, so the engine and the admin API
/// read one record instead of every version.
pub fn script_latest(t: &str, id: &str) -> Vec<u8> {
    join(&["T", t, "script-latest", id])
}
pub fn scripts_latest(t: &str) -> Vec<u8> {
    prefix(&["T", t, "script-latest"])
}
/// A new case whose default script has not started yet: written with the case, deleted once
/// the script runs, so a crash in between starts it on restart (`Engine::rebuild`).
pub fn automation_pending(t: &str, case_id: &str) -> Vec<u8> {
    join(&["T", t, "automation-pending", case_id])
}
pub fn automation_pendings(t: &str) -> Vec<u8> {
    prefix(&["T", t, "automation-pending"])
}
/// A case's running script (its version, position and wake-up time).
pub fn script_run(t: &str, case_id: &str) -> Vec<u8> {
    join(&["T", t, "script-run", case_id])
}
pub fn script_runs(t: &str) -> Vec<u8> {
    prefix(&["T", t, "script-run"])
}
/// The tenant's SLA policies (one record).
pub fn sla_policies(t: &str) -> Vec<u8> {
    join(&["T", t, "sla-policies"])
}
pub fn counter(t: &str, name: &str) -> Vec<u8> {
    join(&["T", t, "counter", name])
}
pub fn counter_global(name: &str) -> Vec<u8> {
    join(&["O", "counter", name])
}

/// The last part of a key (ids after the final separator).
pub fn last_part(key: &[u8]) -> String {
    let s = String::from_utf8_lossy(key);
    s.rsplit(SEP).next().unwrap_or_default().to_string()
}

/// Everything after `prefix` in `key`.
pub fn after_prefix(key: &[u8], prefix: &[u8]) -> String {
    String::from_utf8_lossy(key.get(prefix.len()..).unwrap_or_default()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_tenants_prefix_never_covers_another_tenants_keys() {
        let a = tenant_all("acme");
        assert!(case("acme", "c1").starts_with(&a));
        assert!(
            !case("acme-eu", "c1").starts_with(&a),
            "a tenant id that extends another"
        );
        assert!(!case("acm", "c1").starts_with(&a));
    }

    #[test]
    fn inbox_order_is_priority_then_age() {
        let mut keys = [
            inbox("t", "open", &sort_key(5, 100, "b")),
            inbox("t", "open", &sort_key(1, 900, "c")),
            inbox("t", "open", &sort_key(5, 50, "a")),
        ];
        keys.sort();
        let ids: Vec<String> = keys.iter().map(|k| last_part(k)).collect();
        assert_eq!(ids, vec!["c", "a", "b"]);
    }
}
