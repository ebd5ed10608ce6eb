//! OpenAI Chat Completions (`POST /v1/chat/completions`, as Qwen Code and
//! Aider call it) and the Responses API (`POST /v1/responses`, as Codex
//! calls it), streamed or not, plus embeddings.

use serde_json::{Value, json};

use crate::conversation::{Conversation, SANDBOX_REFUSAL, Turn, user_text};
use crate::server::{Response, sse_data, sse_event, token_estimate};

/// Reads the conversation out of a Chat Completions request.
pub(crate) fn chat_conversation(body: &Value) -> Conversation {
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let prompt = messages
        .iter()
        .rev()
        .filter(|message| message.get("role").and_then(Value::as_str) == Some("user"))
        .find_map(|message| message.get("content").and_then(user_text));
    let has_tool_result = messages
        .iter()
        .any(|message| message.get("role").and_then(Value::as_str) == Some("tool"));
    Conversation {
        prompt,
        tools: function_names(body),
        has_tool_result,
        sandbox_refused: false,
    }
}

/// Tool names in either shape: `{"type": "function", "function": {"name"}}`
/// (Chat Completions) or `{"type": "function", "name"}` (Responses).
fn function_names(body: &Value) -> Vec<String> {
    body.get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|tool| {
            tool.get("function")
                .and_then(|function| function.get("name"))
                .or_else(|| tool.get("name"))
                .and_then(Value::as_str)
        })
        .map(str::to_owned)
        .collect()
}

fn model(body: &Value) -> &str {
    body.get("model")
        .and_then(Value::as_str)
        .unwrap_or("fake-model")
}

/// The answer to a Chat Completions request.
pub(crate) fn chat(body: &Value, turn: &Turn, id: u64) -> Response {
    let model = model(body);
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let prompt_tokens = token_estimate(body);
    let completion_tokens = match turn {
        Turn::Text(text) => token_estimate(&json!(text)),
        Turn::Call { arguments, .. } => token_estimate(arguments),
    };
    let usage = json!({"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                       "total_tokens": prompt_tokens + completion_tokens});
    let completion_id = format!("chatcmpl-fake-{id}");
    let (message, finish_reason) = match turn {
        Turn::Text(text) => (json!({"role": "assistant", "content": text}), "stop"),
        Turn::Call { name, arguments } => (
            json!({"role": "assistant", "content": null, "tool_calls": [{
                "id": format!("call_fake_{id}"), "type": "function",
                "function": {"name": name, "arguments": arguments.to_string()},
            }]}),
            "tool_calls",
        ),
    };
    if !stream {
        return Response::json(json!({
            "id": completion_id, "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
            "usage": usage,
        }));
    }
    let chunk = |delta: Value, finish: Value| {
        json!({"id": completion_id, "object": "chat.completion.chunk", "created": 0, "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let delta = match turn {
        Turn::Text(text) => json!({"content": text}),
        Turn::Call { name, arguments } => json!({"tool_calls": [{
            "index": 0, "id": format!("call_fake_{id}"), "type": "function",
            "function": {"name": name, "arguments": arguments.to_string()},
        }]}),
    };
    let mut events = vec![
        sse_data(&chunk(
            json!({"role": "assistant", "content": ""}),
            Value::Null,
        )),
        sse_data(&chunk(delta, Value::Null)),
        sse_data(&chunk(json!({}), json!(finish_reason))),
    ];
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if include_usage {
        events.push(sse_data(&json!({
            "id": completion_id, "object": "chat.completion.chunk", "created": 0, "model": model,
            "choices": [], "usage": usage,
        })));
    }
    events.push(b"data: [DONE]\n\n".to_vec());
    Response::sse(events)
}

/// Reads the conversation out of a Responses request.
pub(crate) fn responses_conversation(body: &Value) -> Conversation {
    let items: Vec<Value> = match body.get("input") {
        Some(Value::String(text)) => {
            vec![json!({"type": "message", "role": "user", "content": text})]
        }
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    let prompt = items
        .iter()
        .rev()
        .filter(|item| item.get("role").and_then(Value::as_str) == Some("user"))
        .find_map(|item| item.get("content").and_then(user_text));
    let has_tool_result = items.iter().any(|item| {
        item.get("type")
            .and_then(Value::as_str)
            .is_some_and(|kind| kind.ends_with("_call_output"))
    });
    Conversation {
        prompt,
        tools: function_names(body),
        has_tool_result,
        sandbox_refused: sandbox_refused(body, &items),
    }
}

/// True when the one shell command so far (`exec_command`) came back
/// refused by the sandbox and the tool can ask to leave it
/// (`sandbox_permissions`).
fn sandbox_refused(body: &Value, items: &[Value]) -> bool {
    let can_escalate = body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|tool| {
            tool.get("name").and_then(Value::as_str) == Some("exec_command")
                && tool
                    .pointer("/parameters/properties/sandbox_permissions")
                    .is_some()
        });
    let calls = items
        .iter()
        .filter(|item| item.get("type").and_then(Value::as_str) == Some("function_call"))
        .count();
    let refused = items
        .iter()
        .rev()
        .find(|item| item.get("type").and_then(Value::as_str) == Some("function_call_output"))
        .and_then(|item| item.get("output"))
        .map(Value::to_string)
        .is_some_and(|output| output.contains(SANDBOX_REFUSAL));
    can_escalate && calls == 1 && refused
}

/// The answer to a Responses request.
pub(crate) fn responses(body: &Value, turn: &Turn, id: u64) -> Response {
    let model = model(body);
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let input_tokens = token_estimate(body);
    let (item, output_tokens) = match turn {
        Turn::Text(text) => (
            json!({"type": "message", "id": format!("msg_fake_{id}"), "status": "completed",
                   "role": "assistant",
                   "content": [{"type": "output_text", "text": text, "annotations": []}]}),
            token_estimate(&json!(text)),
        ),
        Turn::Call { name, arguments } => (
            json!({"type": "function_call", "id": format!("fc_fake_{id}"), "status": "completed",
                   "call_id": format!("call_fake_{id}"), "name": name,
                   "arguments": arguments.to_string()}),
            token_estimate(arguments),
        ),
    };
    let usage = json!({
        "input_tokens": input_tokens, "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens, "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    });
    let response_id = format!("resp_fake_{id}");
    let response = |status: &str, output: Value, usage: Value| {
        json!({"id": response_id, "object": "response", "created_at": 0, "status": status,
               "model": model, "output": output, "usage": usage})
    };
    if !stream {
        let mut done = response("completed", json!([item]), usage);
        if let Turn::Text(text) = turn {
            done["output_text"] = json!(text);
        }
        return Response::json(done);
    }
    let mut events = vec![
        json!({"type": "response.created", "response": response("in_progress", json!([]), Value::Null)}),
        json!({"type": "response.in_progress", "response": response("in_progress", json!([]), Value::Null)}),
    ];
    match turn {
        Turn::Text(text) => {
            let item_id = item["id"].clone();
            let mut empty = item.clone();
            empty["status"] = json!("in_progress");
            empty["content"] = json!([]);
            let part = json!({"type": "output_text", "text": "", "annotations": []});
            events.extend([
                json!({"type": "response.output_item.added", "output_index": 0, "item": empty}),
                json!({"type": "response.content_part.added", "item_id": item_id,
                       "output_index": 0, "content_index": 0, "part": part}),
                json!({"type": "response.output_text.delta", "item_id": item_id,
                       "output_index": 0, "content_index": 0, "delta": text}),
                json!({"type": "response.output_text.done", "item_id": item_id,
                       "output_index": 0, "content_index": 0, "text": text}),
                json!({"type": "response.content_part.done", "item_id": item_id,
                       "output_index": 0, "content_index": 0,
                       "part": {"type": "output_text", "text": text, "annotations": []}}),
            ]);
        }
        Turn::Call { .. } => {
            let mut empty = item.clone();
            empty["status"] = json!("in_progress");
            empty["arguments"] = json!("");
            events.extend([
                json!({"type": "response.output_item.added", "output_index": 0, "item": empty}),
                json!({"type": "response.function_call_arguments.delta", "item_id": item["id"],
                       "output_index": 0, "delta": item["arguments"]}),
                json!({"type": "response.function_call_arguments.done", "item_id": item["id"],
                       "output_index": 0, "arguments": item["arguments"]}),
            ]);
        }
    }
    events.push(json!({"type": "response.output_item.done", "output_index": 0, "item": item}));
    events.push(json!({"type": "response.completed", "response": response("completed", json!([item]), usage)}));
    Response::sse(
        events
            .iter_mut()
            .enumerate()
            .map(|(sequence, event)| {
                event["sequence_number"] = json!(sequence);
                sse_event(event["type"].as_str(), event)
            })
            .collect(),
    )
}

/// The answer to `POST /v1/embeddings`: one small zero vector per input.
pub(crate) fn embeddings(body: &Value) -> Response {
    let inputs = match body.get("input") {
        Some(Value::Array(items)) => items.len().max(1),
        _ => 1,
    };
    let data: Vec<Value> = (0..inputs)
        .map(|index| json!({"object": "embedding", "index": index, "embedding": vec![0.0_f64; 8]}))
        .collect();
    Response::json(json!({
        "object": "list", "data": data, "model": model(body),
        "usage": {"prompt_tokens": token_estimate(body), "total_tokens": token_estimate(body)},
    }))
}
