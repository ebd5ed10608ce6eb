//! Policies and outcomes.
