//! Mapping a customer's answer back to the choice it means: a typed number ("2", "#2", "2."),
//! several numbers for a multi-select ("1, 3"), the option's label typed out, or a postback
//! payload that the transformer had to shorten.

use super::transform::Offered;

/// The author's choice ids a typed answer selects; empty when it selects nothing.
pub fn match_text(text: &str, offered: &[Offered]) -> Vec<String> {
    let answer = text.trim().trim_end_matches(['.', '!', ')']).trim();
    if answer.is_empty() || offered.is_empty() {
        return Vec::new();
    }
    // Numbers: "2", "#2", "1, 3", "1 and 3".
    let tokens: Vec<&str> = answer
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|t| t.trim_start_matches('#').trim_end_matches('.'))
        .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("and"))
        .collect();
    if !tokens.is_empty() && tokens.iter().all(|t| t.chars().all(|c| c.is_ascii_digit())) {
        let mut ids = Vec::new();
        for token in &tokens {
            let Ok(n) = token.parse::<u32>() else {
                return Vec::new();
            };
            match offered.iter().find(|o| o.number == Some(n)) {
                Some(o) if !ids.contains(&o.id) => ids.push(o.id.clone()),
                Some(_) => {}
                None => return Vec::new(),
            }
        }
        let multi_ok = ids.len() == 1 || offered.iter().any(|o| o.multi);
        return if multi_ok { ids } else { Vec::new() };
    }
    // A label typed out (case-insensitive), or the id itself.
    offered
        .iter()
        .find(|o| o.title.trim().eq_ignore_ascii_case(answer) || o.id == answer)
        .map(|o| vec![o.id.clone()])
        .unwrap_or_default()
}

/// The author's choice id for a postback payload (tokens map back; ids map to themselves).
pub fn match_payload(payload: &str, offered: &[Offered]) -> Option<String> {
    offered
        .iter()
        .find(|o| o.payload == payload)
        .map(|o| o.id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offered(id: &str, title: &str, number: Option<u32>, multi: bool) -> Offered {
        Offered {
            id: id.into(),
            title: title.into(),
            payload: id.into(),
            number,
            multi,
        }
    }

    #[test]
    fn numbers_and_labels_map_back_to_ids() {
        let o = vec![
            offered("ship", "Shipping", Some(1), false),
            offered("ret", "Returns", Some(2), false),
        ];
        assert_eq!(match_text("2", &o), ["ret"]);
        assert_eq!(match_text(" #1. ", &o), ["ship"]);
        assert_eq!(match_text("returns", &o), ["ret"]);
        assert!(match_text("3", &o).is_empty(), "no option 3");
        assert!(match_text("1, 2", &o).is_empty(), "single select");
        assert!(match_text("I want 2 of them", &o).is_empty());
    }

    #[test]
    fn multi_select_takes_several_numbers() {
        let o = vec![
            offered("a", "A", Some(1), true),
            offered("b", "B", Some(2), true),
            offered("c", "C", Some(3), true),
        ];
        assert_eq!(match_text("1, 3", &o), ["a", "c"]);
        assert_eq!(match_text("3 and 1", &o), ["c", "a"]);
    }

    #[test]
    fn shortened_payloads_map_back() {
        let mut long = offered(&"x".repeat(300), "Long", None, false);
        long.payload = "~1".into();
        assert_eq!(match_payload("~1", &[long]), Some("x".repeat(300)));
        assert_eq!(match_payload("~2", &[]), None);
    }
}
