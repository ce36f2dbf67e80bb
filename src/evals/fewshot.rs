//! Few-shot examples for an item: the first k of the pool, k at random (from the run's seed and
//! the item's position, so every variant gets the same draw), or the k nearest by embedding.
//! An item never gets itself as an example when the pool is the task's own dataset.

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::task::FewShotStrategy;
use crate::llm::cosine;

/// Pool indices of the examples of one item. `own` is the item's index in the pool when the
/// pool is the dataset itself; `scores` the item's similarity to every pool entry (nearest only).
pub fn choose(
    strategy: FewShotStrategy,
    k: usize,
    pool_len: usize,
    own: Option<usize>,
    seed: u64,
    position: usize,
    scores: Option<&[f32]>,
) -> Vec<usize> {
    let candidates: Vec<usize> = (0..pool_len).filter(|i| Some(*i) != own).collect();
    let k = k.min(candidates.len());
    if k == 0 {
        return Vec::new();
    }
    match strategy {
        FewShotStrategy::Fixed => candidates[..k].to_vec(),
        FewShotStrategy::Random => {
            // SplitMix-style mixing keeps neighbouring positions' streams unrelated.
            let mixed = seed ^ (position as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut rng = StdRng::seed_from_u64(mixed);
            let mut picked: Vec<usize> = rand::seq::index::sample(&mut rng, candidates.len(), k)
                .into_iter()
                .map(|i| candidates[i])
                .collect();
            picked.sort_unstable();
            picked
        }
        FewShotStrategy::Nearest => {
            let Some(scores) = scores else {
                return candidates[..k].to_vec();
            };
            let mut ranked = candidates;
            // Most similar first; ties by pool order, so the choice is stable.
            ranked.sort_by(|a, b| {
                let (sa, sb) = (
                    scores.get(*a).copied().unwrap_or(f32::MIN),
                    scores.get(*b).copied().unwrap_or(f32::MIN),
                );
                sb.total_cmp(&sa).then(a.cmp(b))
            });
            ranked.truncate(k);
            ranked
        }
    }
}

/// Similarity of every item vector to every pool vector.
pub fn similarities(items: &[Vec<f32>], pool: &[Vec<f32>]) -> Vec<Vec<f32>> {
    items.iter().map(|v| pool.iter().map(|p| cosine(v, p)).collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_skips_the_item_itself() {
        assert_eq!(choose(FewShotStrategy::Fixed, 2, 5, Some(0), 1, 0, None), vec![1, 2]);
        assert_eq!(choose(FewShotStrategy::Fixed, 2, 5, None, 1, 0, None), vec![0, 1]);
        assert_eq!(choose(FewShotStrategy::Fixed, 9, 3, Some(1), 1, 0, None), vec![0, 2]);
        assert!(choose(FewShotStrategy::Fixed, 0, 3, None, 1, 0, None).is_empty());
    }

    #[test]
    fn random_is_seeded_per_item_and_never_the_item() {
        let a = choose(FewShotStrategy::Random, 3, 50, Some(7), 42, 7, None);
        assert_eq!(a, choose(FewShotStrategy::Random, 3, 50, Some(7), 42, 7, None));
        assert_eq!(a.len(), 3);
        assert!(!a.contains(&7));
        let draws: std::collections::BTreeSet<Vec<usize>> =
            (0..10).map(|p| choose(FewShotStrategy::Random, 3, 50, None, 42, p, None)).collect();
        assert!(draws.len() > 5, "positions draw differently: {draws:?}");
    }

    #[test]
    fn nearest_ranks_by_similarity() {
        let items = vec![vec![1.0, 0.0]];
        let pool = vec![vec![0.0, 1.0], vec![1.0, 0.1], vec![1.0, 0.0], vec![-1.0, 0.0]];
        let s = similarities(&items, &pool);
        assert_eq!(choose(FewShotStrategy::Nearest, 2, 4, None, 0, 0, Some(&s[0])), vec![2, 1]);
        assert_eq!(choose(FewShotStrategy::Nearest, 2, 4, Some(2), 0, 0, Some(&s[0])), vec![1, 0]);
    }
}
