//! Who and what: tenants, channel records, agents, skills and API tokens.
//! Tokens are stored only as SHA-256 hashes; the plain token is shown once, at creation.

use sha2::{Digest, Sha256};

use super::types::*;
use super::{keys, new_id, put, Inbox, InboxError, Result};
use crate::store::Op;

/// A token as returned once at creation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewToken {
    pub token: String,
    pub record: TokenRecord,
}

/// 1-64 of a-z, 0-9, `-`, `_`, starting with a letter or digit (names starting with `_` are
/// reserved, e.g. the operator catalogue's folder `_catalogue`).
fn valid_id(id: &str) -> bool {
    id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric()) && crate::model::is_valid_id(id)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Inbox {
    // ---- tenants

    pub fn create_tenant(&self, id: &str, name: &str, region: &str) -> Result<Tenant> {
        if !valid_id(id) {
            return Err(InboxError::Invalid(format!(
                "tenant id `{id}` must be 1-64 characters of a-z, 0-9, `-` or `_`"
            )));
        }
        let region = region.trim().to_ascii_uppercase();
        if region.is_empty() || region.len() > 8 {
            return Err(InboxError::Invalid(
                "region must be a short code such as EU, US, AU, JP".into(),
            ));
        }
        let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
        if self.store.get(&keys::tenant(id))?.is_some() {
            return Err(InboxError::Conflict(format!(
                "tenant `{id}` already exists"
            )));
        }
        let tenant = Tenant {
            id: id.to_string(),
            name: name.to_string(),
            region,
            status: TenantStatus::Active,
            created_ms: now_ms(),
            plugin_memory_mb: None,
            plugin_cpu_ms: None,
            storage_quota_kb: None,
        };
        self.commit.commit(vec![put(keys::tenant(id), &tenant)])?;
        Ok(tenant)
    }

    pub fn tenant(&self, id: &str) -> Result<Option<Tenant>> {
        self.read(&keys::tenant(id))
    }

    pub fn tenants(&self) -> Result<Vec<Tenant>> {
        self.scan_values(&keys::tenants(), usize::MAX)
    }

    pub fn set_tenant_status(&self, id: &str, status: TenantStatus) -> Result<Tenant> {
        let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let mut tenant: Tenant = self
            .read(&keys::tenant(id))?
            .ok_or_else(|| InboxError::NotFound(format!("no tenant `{id}`")))?;
        tenant.status = status;
        self.commit.commit(vec![put(keys::tenant(id), &tenant)])?;
        Ok(tenant)
    }

    /// Set the tenant's plugin limits (`None` = the runtime's default).
    /// Bytes the tenant's ingested records took (keys and values as written; what quotas count).
    pub fn storage_used(&self, tenant: &str) -> Result<u64> {
        Ok(self
            .store
            .get(&keys::counter(tenant, "bytes"))?
            .and_then(|v| String::from_utf8(v).ok())
            .and_then(|s| s.parse().ok())
            .unwrap_or(0))
    }

    pub fn set_tenant_quota(&self, id: &str, quota_kb: Option<u64>) -> Result<Tenant> {
        let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let mut tenant: Tenant = self
            .read(&keys::tenant(id))?
            .ok_or_else(|| InboxError::NotFound(format!("no tenant `{id}`")))?;
        tenant.storage_quota_kb = quota_kb;
        self.commit.commit(vec![put(keys::tenant(id), &tenant)])?;
        Ok(tenant)
    }

    pub fn set_tenant_limits(
        &self,
        id: &str,
        memory_mb: Option<u64>,
        cpu_ms: Option<u64>,
    ) -> Result<Tenant> {
        let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let mut tenant: Tenant = self
            .read(&keys::tenant(id))?
            .ok_or_else(|| InboxError::NotFound(format!("no tenant `{id}`")))?;
        tenant.plugin_memory_mb = memory_mb;
        tenant.plugin_cpu_ms = cpu_ms;
        self.commit.commit(vec![put(keys::tenant(id), &tenant)])?;
        Ok(tenant)
    }

    /// Every record of the tenant as JSON lines (`{"key": ..., "value": ...}`), secrets of
    /// channel configs included: exports go to the tenant's own admins.
    pub fn export_tenant(&self, id: &str) -> Result<Vec<String>> {
        let tenant: Tenant = self
            .read(&keys::tenant(id))?
            .ok_or_else(|| InboxError::NotFound(format!("no tenant `{id}`")))?;
        let mut lines = vec![serde_json::json!({"key": "tenant", "value": tenant}).to_string()];
        let prefix = keys::tenant_all(id);
        let mut after: Option<Vec<u8>> = None;
        loop {
            let batch = self.scan(&prefix, after.as_deref(), 10_000)?;
            let Some(last) = batch.last() else { break };
            after = Some(last.0.clone());
            for (k, v) in batch {
                let key = keys::after_prefix(&k, &prefix).replace('\u{0}', "/");
                let value: serde_json::Value = serde_json::from_slice(&v).unwrap_or_else(|_| {
                    serde_json::Value::String(String::from_utf8_lossy(&v).into_owned())
                });
                lines.push(serde_json::json!({"key": key, "value": value}).to_string());
            }
        }
        Ok(lines)
    }

    /// Delete the tenant and everything it owns. Returns the channel ids it had.
    pub fn delete_tenant(&self, id: &str) -> Result<Vec<String>> {
        let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
        if self.store.get(&keys::tenant(id))?.is_none() {
            return Err(InboxError::NotFound(format!("no tenant `{id}`")));
        }
        let channels: Vec<ChannelRecord> = self.scan_values(&keys::channels(id), usize::MAX)?;
        let mut ops: Vec<Op> = channels
            .iter()
            .map(|c| Op::Delete(keys::channel_route(&c.id)))
            .collect();
        // Plugin state of its channels (`StoreKv` namespaces by channel id).
        for c in &channels {
            let prefix = format!("kv\u{0}{}\u{0}", c.id).into_bytes();
            for (k, _) in self.scan(&prefix, None, usize::MAX)? {
                ops.push(Op::Delete(k));
            }
        }
        for (k, v) in self.scan(&keys::tokens(), None, usize::MAX)? {
            if serde_json::from_slice::<TokenRecord>(&v).is_ok_and(|t| t.tenant == id) {
                ops.push(Op::Delete(k));
            }
        }
        for (k, _) in self.scan(&keys::outbox_all(), None, usize::MAX)? {
            let parts: Vec<&[u8]> = k.split(|b| *b == 0).collect();
            if parts.get(3) == Some(&id.as_bytes()) {
                ops.push(Op::Delete(k));
            }
        }
        ops.push(Op::Delete(keys::tenant(id)));
        let prefix = keys::tenant_all(id);
        loop {
            let batch = self.scan(&prefix, None, 10_000)?;
            if batch.is_empty() {
                break;
            }
            let deletes: Vec<Op> = batch.into_iter().map(|(k, _)| Op::Delete(k)).collect();
            self.store.apply(deletes)?;
        }
        self.commit.commit(ops)?;
        Ok(channels.into_iter().map(|c| c.id).collect())
    }

    // ---- channels

    /// Store a channel record (create or replace). Validation against the plugin happens in
    /// the runtime before this is called.
    pub fn put_channel(&self, record: &ChannelRecord) -> Result<()> {
        if record.default_skill.trim().is_empty() || record.default_script.trim().is_empty() {
            return Err(InboxError::Invalid(
                "every channel needs a default_skill and a default_script".into(),
            ));
        }
        let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(owner) = self.store.get(&keys::channel_route(&record.id))? {
            if owner != record.tenant.as_bytes() {
                return Err(InboxError::Conflict(format!(
                    "channel id `{}` is taken",
                    record.id
                )));
            }
        }
        self.commit.commit(vec![
            put(keys::channel(&record.tenant, &record.id), record),
            Op::Put(
                keys::channel_route(&record.id),
                record.tenant.as_bytes().to_vec(),
            ),
        ])?;
        Ok(())
    }

    pub fn channel(&self, tenant: &str, id: &str) -> Result<Option<ChannelRecord>> {
        self.read(&keys::channel(tenant, id))
    }

    pub fn channels(&self, tenant: &str) -> Result<Vec<ChannelRecord>> {
        self.scan_values(&keys::channels(tenant), usize::MAX)
    }

    /// All channels of all tenants (startup).
    pub fn all_channels(&self) -> Result<Vec<ChannelRecord>> {
        let mut out = Vec::new();
        for tenant in self.tenants()? {
            out.extend(self.channels(&tenant.id)?);
        }
        Ok(out)
    }

    /// Which tenant owns a channel id (webhook routing).
    pub fn channel_owner(&self, channel: &str) -> Result<Option<String>> {
        Ok(self
            .store
            .get(&keys::channel_route(channel))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    pub fn delete_channel(&self, tenant: &str, id: &str) -> Result<()> {
        let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
        if self.store.get(&keys::channel(tenant, id))?.is_none() {
            return Err(InboxError::NotFound(format!("unknown channel `{id}`")));
        }
        self.commit.commit(vec![
            Op::Delete(keys::channel(tenant, id)),
            Op::Delete(keys::channel_route(id)),
        ])?;
        Ok(())
    }

    // ---- contacts

    /// A contact and every identity in its profile (the same person on other channels).
    pub fn contact_profile(&self, tenant: &str, id: &str) -> Result<(Contact, Vec<Contact>)> {
        let contact: Contact = self
            .read(&keys::contact(tenant, id))?
            .ok_or_else(|| InboxError::NotFound(format!("no contact `{id}`")))?;
        let all: Vec<Contact> = self.scan_values(&keys::contacts(tenant), usize::MAX)?;
        let identities = all
            .into_iter()
            .filter(|c| c.profile == contact.profile)
            .collect();
        Ok((contact, identities))
    }

    /// Merge `id`'s profile into `into`'s: afterwards both identities (and everything already
    /// merged with either) share one profile.
    pub fn merge_contacts(&self, tenant: &str, id: &str, into: &str) -> Result<Vec<Contact>> {
        let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let source: Contact = self
            .read(&keys::contact(tenant, id))?
            .ok_or_else(|| InboxError::NotFound(format!("no contact `{id}`")))?;
        let target: Contact = self
            .read(&keys::contact(tenant, into))?
            .ok_or_else(|| InboxError::NotFound(format!("no contact `{into}`")))?;
        if source.profile == target.profile {
            return Err(InboxError::Conflict(
                "these contacts are one profile already".into(),
            ));
        }
        let all: Vec<Contact> = self.scan_values(&keys::contacts(tenant), usize::MAX)?;
        let mut ops = Vec::new();
        let mut merged = Vec::new();
        for mut c in all {
            if c.profile == source.profile {
                c.profile = target.profile.clone();
                ops.push(put(keys::contact(tenant, &c.id), &c));
            }
            if c.profile == target.profile {
                merged.push(c);
            }
        }
        self.commit.commit(ops)?;
        Ok(merged)
    }

    // ---- agents and skills

    pub fn put_agent(&self, agent: &Agent) -> Result<()> {
        if !valid_id(&agent.id) {
            return Err(InboxError::Invalid(format!(
                "agent id `{}` must be 1-64 of a-z, 0-9, - or _",
                agent.id
            )));
        }
        for (skill, level) in &agent.proficiency {
            if !(1..=10).contains(level) || !agent.skills.contains(skill) {
                return Err(InboxError::Invalid(format!(
                    "proficiency of `{skill}` must be 1-10 and the skill one of the agent's skills"
                )));
            }
        }
        self.commit
            .commit(vec![put(keys::agent(&agent.tenant, &agent.id), agent)])?;
        Ok(())
    }

    pub fn agent(&self, tenant: &str, id: &str) -> Result<Option<Agent>> {
        self.read(&keys::agent(tenant, id))
    }

    pub fn agents(&self, tenant: &str) -> Result<Vec<Agent>> {
        self.scan_values(&keys::agents(tenant), usize::MAX)
    }

    /// Delete an agent's record and every API token that acts as them, in one commit.
    /// Their cases are not touched here: routing requeues them first (`Routing::remove_agent`).
    pub fn delete_agent(&self, tenant: &str, id: &str) -> Result<()> {
        let mut ops = vec![Op::Delete(keys::agent(tenant, id))];
        for (k, v) in self.scan(&keys::tokens(), None, usize::MAX)? {
            if serde_json::from_slice::<TokenRecord>(&v)
                .is_ok_and(|t| t.tenant == tenant && t.agent.as_deref() == Some(id))
            {
                ops.push(Op::Delete(k));
            }
        }
        self.commit.commit(ops)?;
        Ok(())
    }

    pub fn put_skill(&self, skill: &Skill) -> Result<()> {
        if !valid_id(&skill.id) {
            return Err(InboxError::Invalid(format!(
                "skill id `{}` must be 1-64 of a-z, 0-9, - or _",
                skill.id
            )));
        }
        self.commit
            .commit(vec![put(keys::skill(&skill.tenant, &skill.id), skill)])?;
        Ok(())
    }

    pub fn skills(&self, tenant: &str) -> Result<Vec<Skill>> {
        self.scan_values(&keys::skills(tenant), usize::MAX)
    }

    // ---- tokens

    pub fn create_token(
        &self,
        tenant: &str,
        role: Role,
        agent: Option<String>,
    ) -> Result<NewToken> {
        if role == Role::Agent && agent.is_none() {
            return Err(InboxError::Invalid(
                "an agent token names the agent it acts as".into(),
            ));
        }
        if let Some(a) = &agent {
            if self.agent(tenant, a)?.is_none() {
                return Err(InboxError::NotFound(format!("no agent `{a}`")));
            }
        }
        let mut raw = [0u8; 24];
        super::random_bytes(&mut raw)
            .map_err(|e| InboxError::Invalid(format!("no randomness for a token: {e}")))?;
        let token = format!("inl_{}", hex::encode(raw));
        let record = TokenRecord {
            id: new_id("tok"),
            tenant: tenant.to_string(),
            role,
            agent,
            created_ms: now_ms(),
        };
        self.commit
            .commit(vec![put(keys::token(&token_hash(&token)), &record)])?;
        Ok(NewToken { token, record })
    }

    pub fn resolve_token(&self, token: &str) -> Result<Option<TokenRecord>> {
        self.read(&keys::token(&token_hash(token)))
    }
}
