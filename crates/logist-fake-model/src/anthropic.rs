//! The Anthropic Messages API (`POST /v1/messages`, streamed or not) and
//! its token counter, as Claude Code calls them.

use serde_json::{Value, json};

use crate::conversation::{Conversation, Turn, user_text};
use crate::server::{Response, sse_event, token_estimate};

/// Reads the conversation out of a Messages request.
pub(crate) fn conversation(body: &Value) -> Conversation {
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let prompt = messages
        .iter()
        .rev()
        .filter(|message| message.get("role").and_then(Value::as_str) == Some("user"))
        .find_map(|message| message.get("content").and_then(user_text));
    let has_tool_result = messages.iter().any(|message| {
        message
            .get("content")
            .and_then(Value::as_array)
            .is_some_and(|parts| {
                parts
                    .iter()
                    .any(|part| part.get("type").and_then(Value::as_str) == Some("tool_result"))
            })
    });
    Conversation {
        prompt,
        tools: tool_names(body),
        has_tool_result,
        sandbox_refused: false,
    }
}

fn tool_names(body: &Value) -> Vec<String> {
    body.get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|tool| tool.get("name").and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

/// The answer to a Messages request.
pub(crate) fn respond(body: &Value, turn: &Turn, id: u64) -> Response {
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("fake-model");
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let input_tokens = token_estimate(body);
    let (block, stop_reason) = match turn {
        Turn::Text(text) => (json!({"type": "text", "text": text}), "end_turn"),
        Turn::Call { name, arguments } => (
            json!({"type": "tool_use", "id": format!("toolu_fake_{id}"), "name": name, "input": arguments}),
            "tool_use",
        ),
    };
    let output_tokens = token_estimate(&block);
    let message_id = format!("msg_fake_{id}");
    if !stream {
        return Response::json(json!({
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [block],
            "stop_reason": stop_reason,
            "stop_sequence": null,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
        }));
    }
    let (start_block, delta) = match turn {
        Turn::Text(text) => (
            json!({"type": "text", "text": ""}),
            json!({"type": "text_delta", "text": text}),
        ),
        Turn::Call { name, arguments } => (
            json!({"type": "tool_use", "id": format!("toolu_fake_{id}"), "name": name, "input": {}}),
            json!({"type": "input_json_delta", "partial_json": arguments.to_string()}),
        ),
    };
    let events = [
        json!({"type": "message_start", "message": {
            "id": message_id, "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": input_tokens, "output_tokens": 1,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
        }}),
        json!({"type": "content_block_start", "index": 0, "content_block": start_block}),
        json!({"type": "ping"}),
        json!({"type": "content_block_delta", "index": 0, "delta": delta}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null},
               "usage": {"output_tokens": output_tokens}}),
        json!({"type": "message_stop"}),
    ];
    Response::sse(
        events
            .iter()
            .map(|event| sse_event(event["type"].as_str(), event))
            .collect(),
    )
}

/// The answer to `POST /v1/messages/count_tokens`.
pub(crate) fn count_tokens(body: &Value) -> Response {
    Response::json(json!({"input_tokens": token_estimate(body)}))
}
