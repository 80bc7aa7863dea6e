//! One answer per item of a batch, filled in as each item is settled (some by the batch
//! request, some alone), handed back in the order the items were given; and the one way the
//! adapters send a batch (`in_rounds`): what a batch request did not do, each item does alone.

use std::future::Future;

/// Rounds of sending again together what a batch request left undone, before each goes alone.
const ROUNDS: usize = 3;

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

/// What one batch request made of its items.
pub enum Chunk<T> {
    /// These are answered; these others go again with the next round.
    Done {
        answered: Vec<(usize, T)>,
        again: Vec<usize>,
    },
    /// Refused as a whole: each item goes alone.
    Refused,
}

/// Answer `n` items: batch requests of up to `size` items (`together`) for a few rounds, then
/// one request per item left (`alone`).
pub async fn in_rounds<T, F, Fut, A, AFut>(
    n: usize,
    size: usize,
    mut together: F,
    mut alone: A,
) -> Vec<T>
where
    F: FnMut(Vec<usize>) -> Fut,
    Fut: Future<Output = Chunk<T>>,
    A: FnMut(usize) -> AFut,
    AFut: Future<Output = T>,
{
    let mut answers = unanswered(n);
    let mut pending: Vec<usize> = (0..n).collect();
    let mut singles = Vec::new();
    for _ in 0..ROUNDS {
        if pending.is_empty() {
            break;
        }
        let mut next = Vec::new();
        for chunk in pending.chunks(size) {
            match together(chunk.to_vec()).await {
                Chunk::Done { answered, again } => {
                    for (i, answer) in answered {
                        answers[i] = Some(answer);
                    }
                    next.extend(again);
                }
                Chunk::Refused => singles.extend_from_slice(chunk),
            }
        }
        pending = next;
    }
    singles.extend(pending);
    for i in singles {
        answers[i] = Some(alone(i).await);
    }
    answered(answers)
}
