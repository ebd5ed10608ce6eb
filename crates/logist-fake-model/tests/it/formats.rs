//! Each wire format: the known answer, streamed and not, and the
//! file-writing tool call of `Script::WriteFile` followed by the answer.

use serde_json::{Value, json};

use logist_fake_model::{FakeModel, Script};

use crate::client::Client;

const PROMPT: &str = "-rf \"it's\" $(touch x)\nsecond line";

fn write_script() -> Script {
    Script::WriteFile {
        path: "/work/dir/hello.txt".into(),
        content: "hi \"there\"".into(),
    }
}

fn client(server: &FakeModel) -> Client {
    Client::connect(server.addr())
}

#[test]
fn anthropic_streams_the_answer() {
    let server = FakeModel::start().unwrap();
    let body = json!({
        "model": "claude-x", "stream": true, "max_tokens": 100,
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "<system-reminder>ignore</system-reminder>"},
            {"type": "text", "text": PROMPT},
        ]}],
    });
    let response = client(&server).post("/v1/messages?beta=true", &body);
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("text/event-stream"));
    let events = response.events();
    let names: Vec<&str> = events
        .iter()
        .filter_map(|(name, _)| name.as_deref())
        .collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let data = response.event_json();
    assert_eq!(data[0]["message"]["model"], "claude-x");
    assert_eq!(data[3]["delta"]["text"], format!("LOGIST-FAKE-OK {PROMPT}"));
    assert_eq!(data[5]["delta"]["stop_reason"], "end_turn");
    // The usage recorded is the stream's: input at the start, the final
    // output count at the end.
    let sent = server.usage_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].input_tokens,
        data[0]["message"]["usage"]["input_tokens"]
            .as_u64()
            .unwrap()
    );
    assert_eq!(
        sent[0].output_tokens,
        data[5]["usage"]["output_tokens"].as_u64().unwrap()
    );
    assert!(sent[0].output_tokens > 1);
}

#[test]
fn anthropic_write_tool_then_answer() {
    let server = FakeModel::start_with(write_script()).unwrap();
    let mut client = client(&server);
    let tools =
        json!([{"name": "Read", "input_schema": {}}, {"name": "Write", "input_schema": {}}]);
    let first = json!({"model": "m", "tools": tools,
                       "messages": [{"role": "user", "content": "write it"}]});
    let response = client.post("/v1/messages", &first).json();
    assert_eq!(response["stop_reason"], "tool_use");
    let call = &response["content"][0];
    assert_eq!(call["type"], "tool_use");
    assert_eq!(call["name"], "Write");
    assert_eq!(
        call["input"],
        json!({"file_path": "/work/dir/hello.txt", "content": "hi \"there\""})
    );

    let second = json!({"model": "m", "tools": tools, "messages": [
        {"role": "user", "content": "write it"},
        {"role": "assistant", "content": [call]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "ok"}]},
    ]});
    let response = client.post("/v1/messages", &second).json();
    assert_eq!(response["stop_reason"], "end_turn");
    assert_eq!(response["content"][0]["text"], "LOGIST-FAKE-OK write it");

    // The streamed tool call carries the arguments as one JSON delta.
    let mut streamed = first.clone();
    streamed["stream"] = json!(true);
    let data = client.post("/v1/messages", &streamed).event_json();
    assert_eq!(data[1]["content_block"]["type"], "tool_use");
    let partial: Value =
        serde_json::from_str(data[3]["delta"]["partial_json"].as_str().unwrap()).unwrap();
    assert_eq!(partial["file_path"], "/work/dir/hello.txt");
}

#[test]
fn chat_completions_stream_with_usage_and_done() {
    let server = FakeModel::start().unwrap();
    let body = json!({"model": "fake-model", "stream": true,
                      "stream_options": {"include_usage": true},
                      "messages": [{"role": "system", "content": "sys"},
                                   {"role": "user", "content": PROMPT}]});
    let response = client(&server).post("/v1/chat/completions", &body);
    let events = response.events();
    assert_eq!(events.last().unwrap().1, "[DONE]");
    let data = response.event_json();
    let text: String = data
        .iter()
        .filter_map(|chunk| {
            chunk
                .pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
        })
        .collect();
    assert_eq!(text, format!("LOGIST-FAKE-OK {PROMPT}"));
    assert_eq!(data[2]["choices"][0]["finish_reason"], "stop");
    assert!(data[3]["usage"]["total_tokens"].as_u64().unwrap() > 0);
    assert_eq!(data[3]["choices"], json!([]));
    let sent = server.usage_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].input_tokens, sent[0].output_tokens),
        (
            data[3]["usage"]["prompt_tokens"].as_u64().unwrap(),
            data[3]["usage"]["completion_tokens"].as_u64().unwrap()
        )
    );
}

#[test]
fn chat_completions_tools_and_tool_less_edit() {
    let server = FakeModel::start_with(write_script()).unwrap();
    let mut client = client(&server);
    let tools = json!([{"type": "function", "function": {"name": "write_file", "parameters": {}}}]);
    let body =
        json!({"model": "m", "tools": tools, "messages": [{"role": "user", "content": "go"}]});
    let response = client.post("/v1/chat/completions", &body).json();
    assert_eq!(response["choices"][0]["finish_reason"], "tool_calls");
    let call = &response["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "write_file");
    let arguments: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments["content"], "hi \"there\"");

    let after = json!({"model": "m", "tools": tools, "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "done"},
    ]});
    let response = client.post("/v1/chat/completions", &after).json();
    assert_eq!(
        response["choices"][0]["message"]["content"],
        "LOGIST-FAKE-OK go"
    );

    // Copilot's `create` tool takes `path` and `file_text`.
    let copilot = json!({"model": "m", "messages": [{"role": "user", "content": "go"}],
        "tools": [{"type": "function", "function": {"name": "create", "parameters": {}}}]});
    let response = client.post("/v1/chat/completions", &copilot).json();
    let call = &response["choices"][0]["message"]["tool_calls"][0]["function"];
    let arguments: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(
        arguments,
        json!({"path": "/work/dir/hello.txt", "file_text": "hi \"there\""})
    );

    // Without tools (Aider), the edit is a whole-file block in the text.
    let aider = json!({"model": "m", "messages": [{"role": "user", "content": "go\n```\nx\n```"}]});
    let text =
        client.post("/v1/chat/completions", &aider).json()["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .to_owned();
    assert!(
        text.ends_with("\n\n/work/dir/hello.txt\n```\nhi \"there\"\n```\n"),
        "{text}"
    );
    // The echoed prompt's fence is defused, so Aider does not apply it.
    assert!(text.starts_with("LOGIST-FAKE-OK go\n'''\nx\n'''"), "{text}");
}

#[test]
fn responses_stream_and_function_call() {
    let server = FakeModel::start_with(write_script()).unwrap();
    let mut client = client(&server);
    let tools = json!([{"type": "function", "name": "exec_command", "parameters": {}}]);
    let input = json!([
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context>cwd</environment_context>"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": PROMPT}]},
    ]);
    let body = json!({"model": "fake-model", "stream": true, "tools": tools, "input": input});
    let data = client.post("/v1/responses", &body).event_json();
    let kinds: Vec<&str> = data
        .iter()
        .map(|event| event["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"response.created"));
    assert_eq!(kinds.last(), Some(&"response.completed"));
    let done = data
        .iter()
        .find(|event| event["type"] == "response.output_item.done")
        .unwrap();
    assert_eq!(done["item"]["type"], "function_call");
    assert_eq!(done["item"]["name"], "exec_command");
    let arguments: Value =
        serde_json::from_str(done["item"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(
        arguments["cmd"],
        r#"printf '%s' 'hi "there"' > '/work/dir/hello.txt'"#
    );
    let sequence: Vec<u64> = data
        .iter()
        .map(|event| event["sequence_number"].as_u64().unwrap())
        .collect();
    assert_eq!(sequence, (0..data.len() as u64).collect::<Vec<_>>());

    let mut after = input.as_array().unwrap().clone();
    after.push(done["item"].clone());
    after.push(
        json!({"type": "function_call_output", "call_id": done["item"]["call_id"], "output": "ok"}),
    );
    let body = json!({"model": "fake-model", "stream": false, "tools": tools, "input": after});
    let response = client.post("/v1/responses", &body).json();
    assert_eq!(response["status"], "completed");
    assert_eq!(response["output_text"], format!("LOGIST-FAKE-OK {PROMPT}"));
    assert_eq!(response["output"][0]["content"][0]["type"], "output_text");
}

#[test]
fn gemini_classifier_stream_and_function_call() {
    let server = FakeModel::start_with(write_script()).unwrap();
    let mut client = client(&server);
    let classifier = json!({
        "contents": [{"role": "user", "parts": [{"text": "route this"}]}],
        "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": {
            "type": "object", "properties": {
                "reasoning": {"type": "string"},
                "complexity_score": {"type": "integer", "minimum": 1, "maximum": 100}}}},
    });
    let response = client
        .post("/v1beta/models/gemini-lite:generateContent", &classifier)
        .json();
    let text = response["candidates"][0]["content"]["parts"][0]["text"]
        .as_str()
        .unwrap();
    let filled: Value = serde_json::from_str(text).unwrap();
    assert!(filled["complexity_score"].as_i64().unwrap() >= 1);
    assert_eq!(response["modelVersion"], "gemini-lite");

    let tools = json!([{"functionDeclarations": [{"name": "read_file"}, {"name": "write_file"}]}]);
    let body = json!({"contents": [{"role": "user", "parts": [{"text": PROMPT}]}], "tools": tools});
    let response = client.post(
        "/v1beta/models/gemini-pro:streamGenerateContent?alt=sse",
        &body,
    );
    let data = response.event_json();
    assert_eq!(data.len(), 1);
    let call = &data[0]["candidates"][0]["content"]["parts"][0]["functionCall"];
    assert_eq!(call["name"], "write_file");
    assert_eq!(call["args"]["file_path"], "/work/dir/hello.txt");

    let body = json!({"tools": tools, "contents": [
        {"role": "user", "parts": [{"text": PROMPT}]},
        {"role": "model", "parts": [{"functionCall": call}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "write_file", "response": {}}}]},
    ]});
    let data = client
        .post(
            "/v1beta/models/gemini-pro:streamGenerateContent?alt=sse",
            &body,
        )
        .event_json();
    assert_eq!(
        data[0]["candidates"][0]["content"]["parts"][0]["text"],
        format!("LOGIST-FAKE-OK {PROMPT}")
    );
}

#[test]
fn fail_script_refuses_model_calls_in_each_shape() {
    let server = FakeModel::start_with(Script::Fail {
        status: 429,
        message: "slow down".into(),
    })
    .unwrap();
    let mut client = client(&server);
    let messages = json!({"messages": [{"role": "user", "content": "hi"}]});
    let response = client.post("/v1/messages", &messages);
    assert_eq!(response.status, 429);
    assert_eq!(response.json()["error"]["type"], "rate_limit_error");
    let response = client.post("/v1/chat/completions", &messages);
    assert_eq!(response.json()["error"]["code"], "rate_limit_exceeded");
    let response = client.post("/v1/responses", &json!({"input": "hi"}));
    assert_eq!(response.status, 429);
    let response = client.post("/v1beta/models/g:streamGenerateContent?alt=sse", &json!({}));
    assert_eq!(response.json()["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(response.json()["error"]["message"], "slow down");
    // Side endpoints still answer.
    let response = client.post("/v1/messages/count_tokens", &messages);
    assert_eq!(response.status, 200);
}
