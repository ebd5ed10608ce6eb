//! HTTP behaviour: keep-alive, side endpoints, bad requests, the request
//! record, and shutdown.

use std::io::Write;
use std::net::TcpStream;

use serde_json::json;

use logist_fake_model::FakeModel;

use crate::client::Client;

#[test]
fn side_endpoints_answer_on_one_kept_alive_connection() {
    let server = FakeModel::start().unwrap();
    let mut client = Client::connect(server.addr());
    let head = client.request("HEAD", "/", "");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());

    let models = client.request("GET", "/v1/models", "").json();
    assert_eq!(models["data"][0]["id"], "fake-model");
    assert_eq!(models["data"][0]["object"], "model");
    assert_eq!(models["data"][0]["type"], "model");
    let one = client.request("GET", "/v1/models/some-model", "").json();
    assert_eq!(one["id"], "some-model");
    let gemini = client.request("GET", "/v1beta/models", "").json();
    assert_eq!(gemini["models"][0]["name"], "models/fake-model");

    let count = client
        .post("/v1/messages/count_tokens", &json!({"messages": []}))
        .json();
    assert!(count["input_tokens"].as_u64().unwrap() >= 1);
    let count = client
        .post("/v1beta/models/g:countTokens", &json!({"contents": []}))
        .json();
    assert!(count["totalTokens"].as_u64().unwrap() >= 1);
    let embedded = client
        .post("/v1/embeddings", &json!({"input": ["a", "b"]}))
        .json();
    assert_eq!(embedded["data"].as_array().unwrap().len(), 2);
    let embedded = client
        .post(
            "/v1beta/models/e:batchEmbedContents",
            &json!({"requests": [{}, {}, {}]}),
        )
        .json();
    assert_eq!(embedded["embeddings"].as_array().unwrap().len(), 3);
    let embedded = client
        .post("/v1beta/models/e:embedContent", &json!({}))
        .json();
    assert_eq!(embedded["embedding"]["values"].as_array().unwrap().len(), 8);

    assert_eq!(server.requests().len(), 9);
}

#[test]
fn bad_requests_get_clear_errors() {
    let server = FakeModel::start().unwrap();
    let mut client = Client::connect(server.addr());
    let response = client.request("POST", "/v1/messages", "{not json");
    assert_eq!(response.status, 400);
    let message = response.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("not JSON"), "{message}");

    let response = client.request("POST", "/v2/unknown", "{}");
    assert_eq!(response.status, 404);
    assert!(
        response.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/v2/unknown")
    );
    let response = client.request("GET", "/nowhere", "");
    assert_eq!(response.status, 404);
    let response = client.request("DELETE", "/v1/models", "");
    assert_eq!(response.status, 405);

    // Garbage is answered with 400 and the connection is closed.
    let response = client.send_raw(b"NOT HTTP AT ALL\r\n\r\n");
    assert_eq!(response.status, 400);
    assert!(client.is_closed());
}

#[test]
fn chunked_requests_and_connection_close_are_honoured() {
    let server = FakeModel::start().unwrap();
    let mut client = Client::connect(server.addr());
    let body = r#"{"model":"m","messages":[{"role":"user","content":"chunked"}]}"#;
    let (first, second) = body.split_at(10);
    let raw = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n",
        first.len(),
        second.len()
    );
    let response = client.send_raw(raw.as_bytes());
    assert_eq!(
        response.json()["choices"][0]["message"]["content"],
        "LOGIST-FAKE-OK chunked"
    );
    assert_eq!(response.header("connection"), Some("close"));
    assert!(client.is_closed());
}

#[test]
fn requests_are_recorded_as_received() {
    let server = FakeModel::start().unwrap();
    let prompt = "-rf \"quoted\" 'single' $(touch pwned)\nnext line";
    let body = json!({"model": "m", "messages": [{"role": "user", "content": prompt}]});
    Client::connect(server.addr()).post("/v1/chat/completions?x=1", &body);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/v1/chat/completions?x=1");
    assert_eq!(request.path(), "/v1/chat/completions");
    assert_eq!(request.json().unwrap(), body);
    assert!(request.contains_string(prompt));
    assert!(!request.contains_string("-rf \"quoted\" 'single' $(touch pwned) next line"));
    assert!(request.body_text().contains("pwned"));
}

#[test]
fn dropping_the_server_closes_its_connections() {
    let server = FakeModel::start().unwrap();
    let addr = server.addr();
    let mut idle = Client::connect(addr);
    assert_eq!(idle.request("HEAD", "/", "").status, 200);
    drop(server);
    // The kept-alive connection was shut down, and nobody listens any more.
    assert!(idle.is_closed());
    let refused = TcpStream::connect(addr).and_then(|mut s| s.write_all(b"GET / HTTP/1.1\r\n\r\n"));
    assert!(refused.is_err());
}
