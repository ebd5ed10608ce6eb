//! A scripted mock agent and a process-free runtime for tests. (Filled in by
//! the mock issue.)
