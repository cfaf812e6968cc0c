//! Process limits the server raises at start.

/// Raises the open-file soft limit to the hard limit: every client connection is a file
/// descriptor, and the usual soft limit (1,024) is far below what a sale needs.
pub fn raise_open_file_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            log::warn!("open files: cannot read the limit: {}", std::io::Error::last_os_error());
            return;
        }
        let soft = limit.rlim_cur;
        limit.rlim_cur = limit.rlim_max;
        if soft < limit.rlim_max && libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            log::warn!(
                "open files: cannot raise {soft} to {}: {}",
                limit.rlim_max,
                std::io::Error::last_os_error()
            );
            return;
        }
        log::info!("open files: soft limit {} (was {soft}), hard limit {}", limit.rlim_cur, limit.rlim_max);
    }
}
