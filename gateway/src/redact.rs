//! Response field redaction: a policy's `redact F.field` obligation removes `field` wherever it
//! appears in a JSON response body, at any depth.

use serde_json::Value;

/// The field names to remove, from `feature.field` obligations.
pub fn fields(obligations: &[wardgate_policy::Obligation]) -> Vec<String> {
    obligations
        .iter()
        .filter_map(|o| match o {
            wardgate_policy::Obligation::Redact { field } => {
                Some(field.rsplit('.').next().unwrap_or(field).to_string())
            }
            _ => None,
        })
        .collect()
}

/// Removes the fields in place; returns how many were removed.
pub fn redact(value: &mut Value, fields: &[String]) -> usize {
    match value {
        Value::Object(map) => {
            let mut n = 0;
            for f in fields {
                if map.remove(f).is_some() {
                    n += 1;
                }
            }
            n + map.values_mut().map(|v| redact(v, fields)).sum::<usize>()
        }
        Value::Array(items) => items.iter_mut().map(|v| redact(v, fields)).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_go_at_every_depth_and_nothing_else_changes() {
        let mut v = json!({
            "patients": [
                {"id": "p1", "ssn": "123-45-6789", "insurance": {"member_id": "X", "ssn": "9"}},
                {"id": "p2", "name": "ssn"}
            ],
            "ssn": 1
        });
        let n = redact(&mut v, &["ssn".to_string()]);
        assert_eq!(n, 3);
        assert_eq!(
            v,
            json!({"patients": [{"id": "p1", "insurance": {"member_id": "X"}}, {"id": "p2", "name": "ssn"}]})
        );
        let obligations = vec![wardgate_policy::Obligation::Redact {
            field: "patients.ssn".into(),
        }];
        assert_eq!(fields(&obligations), vec!["ssn".to_string()]);
    }
}
