//! The contract crate's traits can be held as trait objects and shared
//! across threads, which is what lets callers swap runtimes at run time.

use std::sync::Arc;

use logist_core::{Agent, Runtime};

#[test]
fn traits_are_object_safe_and_thread_safe() {
    fn assert_send_sync<T: Send + Sync + ?Sized>() {}
    assert_send_sync::<dyn Agent>();
    assert_send_sync::<dyn Runtime>();
    assert_send_sync::<Box<dyn Runtime>>();
    assert_send_sync::<Arc<dyn Runtime>>();
}
