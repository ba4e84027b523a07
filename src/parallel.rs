//! Work split over the cores with scoped threads, for the few loops polars does not run in
//! parallel itself (hash tables of row numbers, the structure pass, label columns). Pure.

/// How many shares to cut work into: the cores this process may use (at most 8).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 8))
}

/// `work(0..n)`, one call per thread (the calling thread takes share 0), results in order. A
/// panic in a share is a bug: it is propagated.
pub fn on_each_core<T: Send>(n: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    std::thread::scope(|scope| {
        let work = &work;
        let handles: Vec<_> = (1..n).map(|t| scope.spawn(move || work(t))).collect();
        let mut out = vec![work(0)];
        out.extend(handles.into_iter().map(|h| match h.join() {
            Ok(v) => v,
            Err(p) => std::panic::resume_unwind(p),
        }));
        out
    })
}

/// `a()` on another thread while this one runs `b()`; both results. A panic in either is
/// propagated.
pub fn both<A: Send, B>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B) -> (A, B) {
    std::thread::scope(|scope| {
        let a = scope.spawn(a);
        let b = b();
        match a.join() {
            Ok(a) => (a, b),
            Err(p) => std::panic::resume_unwind(p),
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_share_runs_once_and_results_keep_their_order() {
        for n in [1, 2, 5] {
            assert_eq!(
                super::on_each_core(n, |t| t * 10),
                (0..n).map(|t| t * 10).collect::<Vec<_>>()
            );
        }
    }
}
