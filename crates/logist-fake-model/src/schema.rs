//! Filling a JSON schema with values that satisfy it, for requests that
//! ask for structured output (Gemini CLI's model router asks for a
//! complexity score of at least 1).

use serde_json::{Map, Value, json};

/// A value valid for `schema`: the first `enum`/`const` value, the
/// minimum of a number, one item of an array, every property of an object.
/// Gemini's upper-case type names (`OBJECT`, `STRING`) are accepted.
pub(crate) fn fill(schema: &Value) -> Value {
    fill_depth(schema, 0)
}

fn fill_depth(schema: &Value, depth: usize) -> Value {
    if depth > 16 {
        return Value::Null;
    }
    if let Some(value) = schema.get("const") {
        return value.clone();
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|v| v.first())
    {
        return first.clone();
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(first) = schema
            .get(key)
            .and_then(Value::as_array)
            .and_then(|v| v.first())
        {
            return fill_depth(first, depth + 1);
        }
    }
    let kind = match schema.get("type") {
        Some(Value::String(kind)) => kind.to_ascii_lowercase(),
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|kind| *kind != "null")
            .unwrap_or("null")
            .to_ascii_lowercase(),
        _ if schema.get("properties").is_some() => "object".to_owned(),
        _ => "string".to_owned(),
    };
    match kind.as_str() {
        "object" => {
            let mut object = Map::new();
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    object.insert(name.clone(), fill_depth(property, depth + 1));
                }
            }
            Value::Object(object)
        }
        "array" => {
            let item = schema
                .get("items")
                .map_or(json!("LOGIST-FAKE-OK"), |items| {
                    fill_depth(items, depth + 1)
                });
            let count = schema
                .get("minItems")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .clamp(1, 16);
            Value::Array(vec![item; usize::try_from(count).unwrap_or(1)])
        }
        "integer" | "number" => {
            let minimum = schema
                .get("minimum")
                .and_then(Value::as_f64)
                .unwrap_or(1.0)
                .ceil()
                .max(
                    schema
                        .get("exclusiveMinimum")
                        .and_then(Value::as_f64)
                        .map_or(f64::MIN, |m| m.floor() + 1.0),
                );
            let value = schema
                .get("maximum")
                .and_then(Value::as_f64)
                .map_or(minimum, |maximum| minimum.min(maximum));
            // Whole numbers only: an integer schema must not get `1.0`.
            json!(value as i64)
        }
        "boolean" => json!(true),
        "null" => Value::Null,
        _ => json!("LOGIST-FAKE-OK"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_every_kind() {
        let schema = json!({
            "type": "OBJECT",
            "properties": {
                "reasoning": {"type": "STRING"},
                "complexity_score": {"type": "INTEGER", "minimum": 1, "maximum": 100},
                "choice": {"type": "string", "enum": ["flash", "pro"]},
                "list": {"type": "array", "items": {"type": "boolean"}, "minItems": 2},
                "maybe": {"type": ["null", "number"], "exclusiveMinimum": 4},
                "either": {"anyOf": [{"const": 7}, {"type": "string"}]},
            },
        });
        assert_eq!(
            fill(&schema),
            json!({
                "reasoning": "LOGIST-FAKE-OK",
                "complexity_score": 1,
                "choice": "flash",
                "list": [true, true],
                "maybe": 5,
                "either": 7,
            })
        );
    }

    #[test]
    fn deep_or_empty_schemas_end() {
        assert_eq!(fill(&json!({})), json!("LOGIST-FAKE-OK"));
        let mut schema = json!({"type": "string"});
        for _ in 0..40 {
            schema = json!({"type": "array", "items": schema});
        }
        // Bounded: nesting past the limit becomes null instead of recursing.
        assert!(fill(&schema).to_string().contains("null"));
    }
}
