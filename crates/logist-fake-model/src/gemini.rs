//! The Gemini API (`models/<m>:generateContent`,
//! `:streamGenerateContent?alt=sse`, `:countTokens`, `:embedContent`) as
//! Gemini CLI calls it, including its routing classifier, which asks for
//! JSON matching a schema.

use serde_json::{Value, json};

use crate::conversation::{Conversation, Turn, user_text};
use crate::schema;
use crate::server::{Response, sse_data, token_estimate};

/// Reads the conversation out of a `generateContent` request.
pub(crate) fn conversation(body: &Value) -> Conversation {
    let contents = body
        .get("contents")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let prompt = contents
        .iter()
        .rev()
        .filter(|content| {
            content
                .get("role")
                .and_then(Value::as_str)
                .unwrap_or("user")
                == "user"
        })
        .find_map(|content| content.get("parts").and_then(user_text));
    let has_tool_result = contents.iter().any(|content| {
        content
            .get("parts")
            .and_then(Value::as_array)
            .is_some_and(|parts| {
                parts
                    .iter()
                    .any(|part| part.get("functionResponse").is_some())
            })
    });
    let tools = body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|tool| tool.get("functionDeclarations").and_then(Value::as_array))
        .flatten()
        .filter_map(|declaration| declaration.get("name").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    Conversation {
        prompt,
        tools,
        has_tool_result,
        sandbox_refused: false,
    }
}

/// The JSON schema a request asks the answer to follow, if any.
fn response_schema(body: &Value) -> Option<&Value> {
    let config = body.get("generationConfig")?;
    config
        .get("responseJsonSchema")
        .or_else(|| config.get("responseSchema"))
        .or_else(|| {
            (config.get("responseMimeType").and_then(Value::as_str) == Some("application/json"))
                .then_some(&Value::Null)
        })
}

/// The answer to `generateContent` (`stream` false) or
/// `streamGenerateContent` (`stream` true).
pub(crate) fn respond(body: &Value, model: &str, turn: &Turn, stream: bool, id: u64) -> Response {
    let part = match (response_schema(body), turn) {
        (Some(schema), Turn::Text(_)) => json!({"text": schema::fill(schema).to_string()}),
        (None, Turn::Text(text)) => json!({"text": text}),
        (_, Turn::Call { name, arguments }) => {
            json!({"functionCall": {"name": name, "args": arguments}})
        }
    };
    let prompt_tokens = token_estimate(body);
    let candidate_tokens = token_estimate(&part);
    let answer = json!({
        "candidates": [{"content": {"role": "model", "parts": [part]},
                        "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": prompt_tokens,
                          "candidatesTokenCount": candidate_tokens,
                          "totalTokenCount": prompt_tokens + candidate_tokens},
        "modelVersion": model,
        "responseId": format!("fake-{id}"),
    });
    if stream {
        Response::sse(vec![sse_data(&answer)])
    } else {
        Response::json(answer)
    }
}

/// The answer to `:countTokens`.
pub(crate) fn count_tokens(body: &Value) -> Response {
    Response::json(json!({"totalTokens": token_estimate(body)}))
}

/// The answer to `:embedContent` (`batch` false) or `:batchEmbedContents`.
pub(crate) fn embed(body: &Value, batch: bool) -> Response {
    let embedding = json!({"values": vec![0.0_f64; 8]});
    if batch {
        let count = body
            .get("requests")
            .and_then(Value::as_array)
            .map_or(1, Vec::len);
        Response::json(json!({"embeddings": vec![embedding; count]}))
    } else {
        Response::json(json!({"embedding": embedding}))
    }
}

/// The answer to `GET /v1beta/models`.
pub(crate) fn models() -> Response {
    Response::json(json!({"models": [{
        "name": "models/fake-model", "displayName": "Fake model", "version": "1",
        "inputTokenLimit": 1_000_000, "outputTokenLimit": 65_536,
        "supportedGenerationMethods": ["generateContent", "countTokens"],
    }]}))
}
