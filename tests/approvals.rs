//! Approval steps: waiting (exit 3), approve/reject, resume, --approve.
