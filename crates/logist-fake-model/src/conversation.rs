//! What the fake model says: the known answer, and the file-writing tool
//! call of [`Script::WriteFile`](crate::Script::WriteFile) in each
//! program's own tool.

use serde_json::{Value, json};

use crate::Script;

/// The start of every answer. The rest is the user's prompt as received.
pub const ANSWER_PREFIX: &str = "LOGIST-FAKE-OK";

/// How a file-writing tool takes its arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToolShape {
    /// `{"file_path": <absolute path>, "content": <text>}`.
    PathAndContent,
    /// `{"path": <absolute path>, "file_text": <text>}`.
    PathAndFileText,
    /// `{"filePath": <absolute path>, "content": <text>}`.
    FilePathAndContent,
    /// `{"path": <absolute path>, "new_text": <text>}` (Cline's `editor`,
    /// which creates a missing file).
    PathAndNewText,
    /// `{"cmd": "<shell command that writes the file>"}` (Codex's
    /// `exec_command`).
    ShellCmd,
    /// `{"command": ["bash", "-lc", "<shell command>"]}` (older Codex
    /// `shell`).
    ShellArgv,
    /// `{"input": "*** Begin Patch\n*** Add File: <path>\n+<line>…\n*** End Patch"}`
    /// (Cline's `apply_patch`, offered instead of `editor` for OpenAI
    /// models).
    AddFilePatch,
}

/// The wire format of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Api {
    Anthropic,
    ChatCompletions,
    Responses,
    Gemini,
}

/// The file-writing tools the fake model knows, per wire format: the tool's
/// name, how it takes arguments, and where it was seen.
///
/// The first tool of the request's format that the program offers is the
/// one called.
pub const TOOLS: &[(&str, &str, ToolShape, &str)] = &[
    (
        "anthropic",
        "Write",
        ToolShape::PathAndContent,
        "Claude Code 2.1.197",
    ),
    (
        "chat-completions",
        "write_file",
        ToolShape::PathAndContent,
        "Qwen Code 0.15.10",
    ),
    (
        "chat-completions",
        "create",
        ToolShape::PathAndFileText,
        "GitHub Copilot CLI 1.0.102",
    ),
    (
        "chat-completions",
        "write",
        ToolShape::FilePathAndContent,
        "OpenCode 1.18.33",
    ),
    (
        "chat-completions",
        "editor",
        ToolShape::PathAndNewText,
        "Cline 3.0.65",
    ),
    (
        "responses",
        "exec_command",
        ToolShape::ShellCmd,
        "Codex 0.169.0",
    ),
    ("responses", "shell", ToolShape::ShellArgv, "older Codex"),
    (
        "chat-completions",
        "apply_patch",
        ToolShape::AddFilePatch,
        "Cline 3.0.65 (ACP mode, OpenAI model)",
    ),
    (
        "gemini",
        "write_file",
        ToolShape::PathAndContent,
        "Gemini CLI 0.61.0",
    ),
];

impl Api {
    fn key(self) -> &'static str {
        match self {
            Api::Anthropic => "anthropic",
            Api::ChatCompletions => "chat-completions",
            Api::Responses => "responses",
            Api::Gemini => "gemini",
        }
    }
}

/// What a request tells about the conversation, whatever its format.
#[derive(Debug, Default)]
pub(crate) struct Conversation {
    /// The text of the latest user message that has text.
    pub(crate) prompt: Option<String>,
    /// The names of the tools offered.
    pub(crate) tools: Vec<String>,
    /// True when the conversation already holds a tool's result.
    pub(crate) has_tool_result: bool,
    /// True when the only shell command so far was refused by the
    /// program's sandbox and its shell tool can ask to run it outside
    /// (Codex's `sandbox_permissions: "require_escalated"`): the model asks
    /// again with that, as a real model does, and the program asks the
    /// person (over ACP, `session/request_permission`).
    pub(crate) sandbox_refused: bool,
}

/// What Codex 0.169.0's read-only sandbox answers a write with (in the
/// `exec_command` output).
pub(crate) const SANDBOX_REFUSAL: &str = "Read-only file system";

/// One reply of the model.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Turn {
    /// Plain text.
    Text(String),
    /// A call of the tool `name` with these arguments.
    Call { name: String, arguments: Value },
}

/// The known answer for a prompt. Code fences in the echoed prompt become
/// `'''`, so that a program that applies edits found in the reply (Aider
/// reads "a file name, then a fenced block" as a whole-file edit) does not
/// act on examples inside its own prompt.
pub(crate) fn answer(prompt: Option<&str>) -> String {
    match prompt {
        Some(prompt) => format!("{ANSWER_PREFIX} {}", prompt.replace("```", "'''")),
        None => ANSWER_PREFIX.to_owned(),
    }
}

/// Decides the reply to a request in format `api`.
pub(crate) fn decide(script: &Script, api: Api, conversation: &Conversation) -> Turn {
    let text = answer(conversation.prompt.as_deref());
    let Script::WriteFile { path, content } = script else {
        return Turn::Text(text);
    };
    if conversation.has_tool_result && !conversation.sandbox_refused {
        return Turn::Text(text);
    }
    let offered = TOOLS.iter().find(|(format, name, _, _)| {
        *format == api.key() && conversation.tools.iter().any(|tool| tool == name)
    });
    let path_text = path.to_string_lossy();
    match offered {
        Some((_, name, shape, _)) => {
            let command = format!(
                "printf '%s' {} > {}",
                shell_quote(content),
                shell_quote(&path_text)
            );
            let arguments = match shape {
                ToolShape::PathAndContent => json!({"file_path": path_text, "content": content}),
                ToolShape::PathAndFileText => json!({"path": path_text, "file_text": content}),
                ToolShape::FilePathAndContent => {
                    json!({"filePath": path_text, "content": content})
                }
                ToolShape::PathAndNewText => json!({"path": path_text, "new_text": content}),
                ToolShape::ShellCmd if conversation.sandbox_refused => json!({
                    "cmd": command,
                    "sandbox_permissions": "require_escalated",
                    "justification": "Create the file the user asked for",
                }),
                ToolShape::ShellCmd => json!({"cmd": command}),
                ToolShape::ShellArgv => json!({"command": ["bash", "-lc", command]}),
                ToolShape::AddFilePatch => {
                    let lines: String = content.lines().map(|line| format!("+{line}\n")).collect();
                    json!({"input": format!("*** Begin Patch\n*** Add File: {path_text}\n{lines}*** End Patch\n")})
                }
            };
            Turn::Call {
                name: (*name).to_owned(),
                arguments,
            }
        }
        // A chat client that offers no tools at all edits files from the
        // reply text: Aider's "whole" edit format is the file name on its
        // own line followed by the complete content in a fence.
        None if api == Api::ChatCompletions && conversation.tools.is_empty() => {
            Turn::Text(format!("{text}\n\n{path_text}\n```\n{content}\n```\n"))
        }
        None => Turn::Text(text),
    }
}

/// Quotes `text` for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The text of a message's content: a string, or the text parts of an
/// array (`{"type": "text"|"input_text", "text": …}` or `{"text": …}`),
/// skipping the reminders programs add around the user's words.
pub(crate) fn user_text(content: &Value) -> Option<String> {
    match content {
        Value::String(text) => Some(text.clone()),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| {
                let kind = part.get("type").and_then(Value::as_str);
                let text = part.get("text").and_then(Value::as_str)?;
                matches!(kind, None | Some("text" | "input_text")).then_some(text)
            })
            .rfind(|text| !is_decoration(text))
            .map(str::to_owned),
        _ => None,
    }
}

/// Text that programs add to the user's message on their own.
fn is_decoration(text: &str) -> bool {
    let text = text.trim_start();
    [
        "<system-reminder>",
        "<environment_context>",
        "<user_instructions>",
    ]
    .iter()
    .any(|prefix| text.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conversation(tools: &[&str], has_tool_result: bool) -> Conversation {
        Conversation {
            prompt: Some("hi".into()),
            tools: tools.iter().map(|tool| (*tool).to_owned()).collect(),
            has_tool_result,
            sandbox_refused: false,
        }
    }

    fn write_file() -> Script {
        Script::WriteFile {
            path: "/tmp/x/it's.txt".into(),
            content: "a'b".into(),
        }
    }

    #[test]
    fn answer_mode_always_answers() {
        let turn = decide(
            &Script::Answer,
            Api::Anthropic,
            &conversation(&["Write"], false),
        );
        assert_eq!(turn, Turn::Text("LOGIST-FAKE-OK hi".into()));
        assert_eq!(answer(None), "LOGIST-FAKE-OK");
    }

    #[test]
    fn write_mode_calls_the_offered_tool_once() {
        let turn = decide(
            &write_file(),
            Api::Anthropic,
            &conversation(&["Read", "Write"], false),
        );
        assert_eq!(
            turn,
            Turn::Call {
                name: "Write".into(),
                arguments: json!({"file_path": "/tmp/x/it's.txt", "content": "a'b"}),
            }
        );
        let turn = decide(
            &write_file(),
            Api::Anthropic,
            &conversation(&["Write"], true),
        );
        assert_eq!(turn, Turn::Text("LOGIST-FAKE-OK hi".into()));
    }

    #[test]
    fn opencode_gets_its_camel_case_arguments() {
        let turn = decide(
            &write_file(),
            Api::ChatCompletions,
            &conversation(&["bash", "edit", "write"], false),
        );
        assert_eq!(
            turn,
            Turn::Call {
                name: "write".into(),
                arguments: json!({"filePath": "/tmp/x/it's.txt", "content": "a'b"}),
            }
        );
    }

    #[test]
    fn codex_gets_a_quoted_shell_command() {
        let turn = decide(
            &write_file(),
            Api::Responses,
            &conversation(&["exec_command"], false),
        );
        assert_eq!(
            turn,
            Turn::Call {
                name: "exec_command".into(),
                arguments: json!({"cmd": r"printf '%s' 'a'\''b' > '/tmp/x/it'\''s.txt'"}),
            }
        );
    }

    #[test]
    fn codex_asks_to_leave_a_sandbox_that_refused_the_write() {
        let conversation = Conversation {
            sandbox_refused: true,
            ..conversation(&["exec_command"], true)
        };
        let turn = decide(&write_file(), Api::Responses, &conversation);
        assert_eq!(
            turn,
            Turn::Call {
                name: "exec_command".into(),
                arguments: json!({
                    "cmd": r"printf '%s' 'a'\''b' > '/tmp/x/it'\''s.txt'",
                    "sandbox_permissions": "require_escalated",
                    "justification": "Create the file the user asked for",
                }),
            }
        );
    }

    #[test]
    fn apply_patch_gets_an_add_file_patch() {
        let script = Script::WriteFile {
            path: "/tmp/x/a.txt".into(),
            content: "one\ntwo".into(),
        };
        let turn = decide(
            &script,
            Api::ChatCompletions,
            &conversation(&["read_files", "apply_patch"], false),
        );
        assert_eq!(
            turn,
            Turn::Call {
                name: "apply_patch".into(),
                arguments: json!({"input": "*** Begin Patch\n*** Add File: /tmp/x/a.txt\n+one\n+two\n*** End Patch\n"}),
            }
        );
    }

    #[test]
    fn tool_less_chat_gets_a_whole_file_edit_and_unknown_tools_get_text() {
        let Turn::Text(text) = decide(
            &write_file(),
            Api::ChatCompletions,
            &conversation(&[], false),
        ) else {
            panic!("expected text");
        };
        assert!(
            text.ends_with("\n\n/tmp/x/it's.txt\n```\na'b\n```\n"),
            "{text}"
        );
        let turn = decide(
            &write_file(),
            Api::Gemini,
            &conversation(&["read_file"], false),
        );
        assert_eq!(turn, Turn::Text("LOGIST-FAKE-OK hi".into()));
    }

    #[test]
    fn user_text_skips_reminders() {
        let content = json!([
            {"type": "text", "text": "<system-reminder>x</system-reminder>"},
            {"type": "text", "text": "-rf \"$(q)\""},
            {"type": "image", "source": {}},
        ]);
        assert_eq!(user_text(&content).as_deref(), Some("-rf \"$(q)\""));
        assert_eq!(user_text(&json!("plain")).as_deref(), Some("plain"));
        assert_eq!(
            user_text(&json!([{"type": "tool_result", "content": "x"}])),
            None
        );
        assert_eq!(user_text(&json!(3)), None);
    }
}
