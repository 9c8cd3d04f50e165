//! The choices a customer was offered in a case, and what an answer selects. Delivery records
//! the offered choices when a message with options is sent; ingest maps the customer's next
//! tap or typed answer ("2", "1, 3", the label) back to the author's choice ids.

use super::{keys, Inbox, Result};
use crate::content::{answer, Offered};

impl Inbox {
    /// The choices last offered in a case.
    pub fn offered_choices(&self, tenant: &str, case_id: &str) -> Result<Vec<Offered>> {
        Ok(self
            .read::<Vec<Offered>>(&keys::offered(tenant, case_id))?
            .unwrap_or_default())
    }

    /// The choice ids an inbound message selects: a postback's payload (mapped back when the
    /// transformer shortened it), or a typed answer to numbered options.
    pub(super) fn chosen(
        &self,
        tenant: &str,
        case_id: &str,
        text: Option<&str>,
        postback: Option<&str>,
    ) -> Result<Vec<String>> {
        let offered = self.offered_choices(tenant, case_id)?;
        if let Some(payload) = postback {
            return Ok(vec![
                answer::match_payload(payload, &offered).unwrap_or_else(|| payload.to_string())
            ]);
        }
        Ok(text
            .map(|t| answer::match_text(t, &offered))
            .unwrap_or_default())
    }
}
