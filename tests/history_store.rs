//! The history database itself: durability under kill -9, concurrent
//! writers, corrupt and foreign files, permissions.
