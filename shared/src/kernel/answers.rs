//! One answer per item of a batch, filled in as each item is settled (some by the batch
//! request, some alone), handed back in the order the items were given.

/// `n` items, none answered yet.
pub fn unanswered<T>(n: usize) -> Vec<Option<T>> {
    std::iter::repeat_with(|| None).take(n).collect()
}

/// The answers once every item has one. A missing answer is a bug of the batch code, never
/// of the input: it panics.
pub fn answered<T>(answers: Vec<Option<T>>) -> Vec<T> {
    answers
        .into_iter()
        .map(|a| a.expect("every item of a batch is answered"))
        .collect()
}
