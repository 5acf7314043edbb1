//! Which waiting parts make the next output.
//!
//! The aggregator asks for one output at a time: the set of parts whose sizes add
//! up as close to `max_bytes` as possible without exceeding it. AB2D takes the
//! parts largest first and keeps each that still fits ([`greedy_select`]); that
//! wastes outputs (parts of 5, 4, 3, 3, 3 and 2 tenths of the cap fill two
//! outputs exactly, greedy makes three). [`select`] starts from the greedy answer
//! and improves it with a bounded branch-and-bound search over the sizes sorted
//! largest first, so it is never worse than greedy and usually exact; the search
//! is capped at [`SEARCH_BUDGET`] steps, so one selection costs O(n log n) for
//! the sort plus a constant.
//!
//! [`plan_all`] packs everything that is left when streaming closes, into no
//! more outputs than greedy would make.
//!
//! Parts of zero bytes always ride along with the next selection (they cost
//! nothing and must leave `finished/`). A part larger than `max_bytes` becomes an
//! output alone.

use std::cmp::Reverse;

/// Most steps the improving search may take for one selection.
pub const SEARCH_BUDGET: usize = 50_000;

/// The search decides only the last stretch of an output: the largest parts
/// are taken as greedy takes them while the room left after each is at least
/// this many times its size (every later part is smaller still). With tens of
/// thousands of small parts waiting, the search then works on a few dozen
/// decisions, not on tens of thousands, in time and memory alike.
pub const SEARCH_ROOM: u64 = 32;

/// The search tries the largest this many of the parts after that prefix; the
/// smaller ones beyond are still considered by the greedy answer it starts
/// from, so it is never worse than greedy, and its memory stays bounded
/// however many parts wait.
pub const SEARCH_WINDOW: usize = 4096;

/// A part's size as selections read it: `u64`, or `u32` where every size
/// fits (the aggregator keeps tens of thousands of them).
pub trait Size: Copy + Into<u64> {}

impl Size for u64 {}
impl Size for u32 {}

/// Whether `waiting` bytes of one kind call for an output while the job runs:
/// strictly more than the trigger (`multiplier × max_bytes`), as upstream.
pub fn should_aggregate(waiting: u64, trigger: u64) -> bool {
    waiting > trigger
}

/// Indices (into `sizes`) of the parts for one output, in the order they go
/// into it. Indices are `u32`: tens of thousands of parts may wait, and a
/// selection holds one index for each part it picks.
///
/// Empty input gives an empty selection. Every zero-size part is included.
pub fn select<S: Size>(sizes: &[S], max_bytes: u64) -> Vec<u32> {
    Sorted::new(sizes).one_output(max_bytes, best_fit)
}

/// AB2D's selection: parts largest first, each taken if it still fits; a part
/// larger than `max_bytes` goes alone. Kept as the baseline for tests and benches.
pub fn greedy_select<S: Size>(sizes: &[S], max_bytes: u64) -> Vec<u32> {
    Sorted::new(sizes).one_output(max_bytes, greedy_fit)
}

/// Packs every part into outputs: repeated [`select`], unless repeated
/// [`greedy_select`] would need fewer outputs. Each inner vector is one output.
pub fn plan_all<S: Size>(sizes: &[S], max_bytes: u64) -> Vec<Vec<u32>> {
    plan_with(sizes, max_bytes, |output| output.collect())
}

/// The outputs of [`plan_all`], each made into a `G` by `make` as soon as it
/// is chosen, so that no plan of indices is held beside them (tens of
/// thousands of parts may wait when streaming closes).
///
/// The parts are sorted once a packing; each output is chosen from what is
/// left, which stays sorted. Greedy's packing is counted first, and made only
/// if it needs fewer outputs.
pub fn plan_with<S: Size, G>(
    sizes: &[S],
    max_bytes: u64,
    mut make: impl FnMut(Output<'_>) -> G,
) -> Vec<G> {
    let mut greedy_outputs = 0;
    pack(sizes, max_bytes, greedy_fit, |_| greedy_outputs += 1);
    let mut plan = Vec::new();
    pack(sizes, max_bytes, best_fit, |output| plan.push(make(output)));
    if greedy_outputs < plan.len() {
        plan.clear();
        pack(sizes, max_bytes, greedy_fit, |output| {
            plan.push(make(output))
        });
    }
    plan
}

/// One output of a packing: the indices (into the sizes) of its parts, in the
/// order they go into it.
#[derive(Debug)]
pub struct Output<'a> {
    /// Positions in `order`.
    picked: std::slice::Iter<'a, u32>,
    order: &'a [u32],
    /// The zero-size parts, which ride along with the first output.
    zeros: std::slice::Iter<'a, u32>,
}

impl Iterator for Output<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        match self.picked.next() {
            Some(&position) => Some(self.order[position as usize]),
            None => self.zeros.next().copied(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let len = self.picked.len() + self.zeros.len();
        (len, Some(len))
    }
}

impl ExactSizeIterator for Output<'_> {}

/// Chooses the positions (in a [`Descending`] order) of one output's parts,
/// ascending, into the empty vector it is given.
type Choose<S> = fn(Descending<'_, S>, u64, &mut Vec<u32>);

/// Repeated selections with `choose`, each output given to `output`;
/// zero-size parts go with the first. One vector of positions serves every
/// output.
fn pack<S: Size>(
    sizes: &[S],
    max_bytes: u64,
    choose: Choose<S>,
    mut output: impl FnMut(Output<'_>),
) {
    let mut sorted = Sorted::new(sizes);
    let mut zeros = std::mem::take(&mut sorted.zeros);
    let mut positions = Vec::new();
    while !sorted.order.is_empty() || !zeros.is_empty() {
        positions.clear();
        sorted.positions(max_bytes, choose, &mut positions);
        output(Output {
            picked: positions.iter(),
            order: &sorted.order,
            zeros: zeros.iter(),
        });
        zeros.clear();
        remove_sorted(&mut sorted.order, &positions);
        // What is left shrinks as the outputs made from it grow.
        sorted.order.shrink_to_fit();
    }
}

/// Removes the items at `indices` (ascending) from `items`, keeping the
/// order of the rest: one pass, no flag per item.
pub(crate) fn remove_sorted<T>(items: &mut Vec<T>, indices: &[u32]) {
    debug_assert!(indices.is_sorted(), "indices to remove ascend");
    let mut next = indices.iter().map(|&i| i as usize).peekable();
    let mut index = 0;
    items.retain(|_| {
        let remove = next.next_if_eq(&index).is_some();
        index += 1;
        !remove
    });
}

/// The parts by size, largest first, as indices into the sizes: the sizes
/// themselves are not copied (tens of thousands of parts may wait, and this
/// order is a selection's largest allocation).
struct Sorted<'a, S> {
    sizes: &'a [S],
    /// Indices of the non-zero sizes, largest first (equal sizes by index).
    order: Vec<u32>,
    /// Indices of the zero-size parts.
    zeros: Vec<u32>,
}

impl<'a, S: Size> Sorted<'a, S> {
    fn new(sizes: &'a [S]) -> Self {
        let n = u32::try_from(sizes.len()).expect("fewer than 2³² parts wait");
        let zero_count = sizes.iter().filter(|&&s| s.into() == 0).count();
        let mut order = Vec::with_capacity(sizes.len() - zero_count);
        let mut zeros = Vec::with_capacity(zero_count);
        for i in 0..n {
            if sizes[i as usize].into() > 0 {
                order.push(i);
            } else {
                zeros.push(i);
            }
        }
        order.sort_unstable_by_key(|&i| (Reverse(sizes[i as usize].into()), i));
        Sorted {
            sizes,
            order,
            zeros,
        }
    }

    /// The positions of one output chosen by `choose`, into `positions`; a
    /// part larger than `max_bytes` goes alone.
    fn positions(&self, max_bytes: u64, choose: Choose<S>, positions: &mut Vec<u32>) {
        let view = Descending {
            sizes: self.sizes,
            order: &self.order,
        };
        if view.len() > 0 && view.size(0) > max_bytes {
            positions.push(0);
        } else {
            choose(view, max_bytes, positions);
        }
    }

    /// The indices of one output chosen by `choose`, then the zero-size parts.
    fn one_output(&self, max_bytes: u64, choose: Choose<S>) -> Vec<u32> {
        let mut positions = Vec::new();
        self.positions(max_bytes, choose, &mut positions);
        Output {
            picked: positions.iter(),
            order: &self.order,
            zeros: self.zeros.iter(),
        }
        .collect()
    }
}

/// Sizes sorted descending, read through their indices; positions are `u32`.
struct Descending<'a, S> {
    sizes: &'a [S],
    order: &'a [u32],
}

// Derived, these would ask `S: Clone`; a view is copied whatever it reads.
impl<S> Clone for Descending<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for Descending<'_, S> {}

impl<'a, S: Size> Descending<'a, S> {
    fn len(&self) -> usize {
        self.order.len()
    }

    fn size(&self, position: usize) -> u64 {
        self.sizes[self.order[position] as usize].into()
    }

    /// The positions `from..` (positions restart at 0).
    fn skip(&self, from: usize) -> Descending<'a, S> {
        Descending {
            sizes: self.sizes,
            order: &self.order[from..],
        }
    }

    /// The first `len` positions.
    fn take(&self, len: usize) -> Descending<'a, S> {
        Descending {
            sizes: self.sizes,
            order: &self.order[..len.min(self.order.len())],
        }
    }

    /// The first position from `from` on whose size is at most `room`.
    fn first_fitting(&self, from: usize, room: u64) -> usize {
        from + self.order[from..].partition_point(|&i| self.sizes[i as usize].into() > room)
    }
}

/// Greedy's positions.
fn greedy_fit<S: Size>(sizes: Descending<'_, S>, cap: u64, positions: &mut Vec<u32>) {
    greedy(sizes, cap, positions);
}

/// Greedy for the largest parts, then the bounded search (see
/// [`SEARCH_ROOM`] and [`SEARCH_WINDOW`]).
fn best_fit<S: Size>(sizes: Descending<'_, S>, cap: u64, positions: &mut Vec<u32>) {
    let (mut fixed, mut taken) = (0, 0u64);
    while fixed < sizes.len() {
        let next = sizes.size(fixed);
        if taken + next + SEARCH_ROOM.saturating_mul(next) > cap {
            break;
        }
        taken += next;
        fixed += 1;
    }
    let rest = search(sizes.skip(fixed), cap - taken);
    // Exactly: an output may take tens of thousands of parts.
    positions.reserve_exact(fixed + rest.len());
    positions.extend(0..fixed as u32);
    positions.extend(rest.into_iter().map(|p| p + fixed as u32));
}

/// Largest-first pass: pushes the positions taken onto `picked`; returns
/// their sum.
fn greedy<S: Size>(sizes: Descending<'_, S>, cap: u64, picked: &mut Vec<u32>) -> u64 {
    let mut sum = 0u64;
    for pos in 0..sizes.len() {
        let s = sizes.size(pos);
        if s <= cap - sum {
            sum += s;
            picked.push(pos as u32);
            if sum == cap {
                break;
            }
        }
    }
    sum
}

/// Branch and bound over the first [`SEARCH_WINDOW`] positions, seeded with
/// the greedy answer over all of them and capped at [`SEARCH_BUDGET`] steps.
/// Returns positions.
fn search<S: Size>(all: Descending<'_, S>, cap: u64) -> Vec<u32> {
    let mut best = Vec::new();
    let mut best_sum = greedy(all, cap, &mut best);
    if best_sum == cap {
        return best;
    }
    let s = all.take(SEARCH_WINDOW);
    let n = s.len();
    // suffix[i] = sum of the window's sizes from i: the most that positions
    // i.. can add.
    let mut suffix = vec![0u64; n + 1];
    for i in (0..n).rev() {
        suffix[i] = suffix[i + 1].saturating_add(s.size(i));
    }
    // One frame a depth: the level's first position and the next to try.
    struct Frame {
        start: usize,
        next: usize,
    }
    let mut frames = vec![Frame { start: 0, next: 0 }];
    let mut chosen: Vec<u32> = Vec::new();
    let mut sum = 0u64;
    let mut budget = SEARCH_BUDGET;
    'search: while let Some(frame) = frames.last_mut() {
        let mut pick = None;
        while frame.next < n {
            if budget == 0 {
                break 'search;
            }
            budget -= 1;
            let j = frame.next;
            if sum.saturating_add(suffix[j]) <= best_sum {
                frame.next = n; // nothing below can beat the best
                break;
            }
            let room = cap - sum;
            if s.size(j) > room {
                // Sizes descend: jump to the first one that fits.
                frame.next = s.first_fitting(j, room);
                continue;
            }
            frame.next = j + 1;
            if j > frame.start && s.size(j) == s.size(j - 1) {
                continue; // an equal sibling was tried already
            }
            pick = Some(j);
            break;
        }
        match pick {
            Some(j) => {
                chosen.push(j as u32);
                sum += s.size(j);
                if sum > best_sum {
                    best_sum = sum;
                    best.clone_from(&chosen);
                    if best_sum == cap {
                        break 'search;
                    }
                }
                frames.push(Frame {
                    start: j + 1,
                    next: j + 1,
                });
            }
            None => {
                frames.pop();
                if let Some(j) = chosen.pop() {
                    sum -= s.size(j as usize);
                }
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIB: u64 = 1 << 20;

    fn total(sizes: &[u64], picked: &[u32]) -> u64 {
        picked.iter().map(|&i| sizes[i as usize]).sum()
    }

    /// No index is picked twice.
    fn each_once(picked: &[u32]) -> bool {
        let mut unique = picked.to_vec();
        unique.sort_unstable();
        unique.dedup();
        unique.len() == picked.len()
    }

    /// The fill of `select`, checked against what every selection of parts
    /// no larger than `max` must be: no part twice, within `max`, and no worse
    /// than greedy.
    fn checked_fill(sizes: &[u64], max: u64) -> Result<u64, TestCaseError> {
        let picked = select(sizes, max);
        prop_assert!(each_once(&picked), "a part picked twice");
        let fill = total(sizes, &picked);
        prop_assert!(fill <= max);
        prop_assert!(fill >= total(sizes, &greedy_select(sizes, max)));
        Ok(fill)
    }

    /// Outputs AB2D makes of everything: `greedy_select` over what is left,
    /// again and again.
    fn ab2d_outputs(sizes: &[u64], max: u64) -> usize {
        let mut left: Vec<u64> = sizes.to_vec();
        let mut outputs = 0;
        while !left.is_empty() {
            let mut chosen = greedy_select(&left, max);
            chosen.sort_unstable_by(|a, b| b.cmp(a));
            for c in chosen {
                left.swap_remove(c as usize);
            }
            outputs += 1;
        }
        outputs
    }

    /// One case, run through every selection path.
    struct Case {
        name: &'static str,
        sizes: Vec<u64>,
        max: u64,
        /// Bytes of the best single output.
        best: u64,
        /// Outputs `plan_all` needs.
        outputs: usize,
    }

    fn cases() -> Vec<Case> {
        let unit = 104_857;
        vec![
            Case {
                name: "greedy wastes an output",
                sizes: [5, 4, 3, 3, 3, 2].iter().map(|u| u * unit).collect(),
                max: MIB,
                best: 10 * unit,
                outputs: 2,
            },
            Case {
                name: "empty",
                sizes: vec![],
                max: MIB,
                best: 0,
                outputs: 0,
            },
            Case {
                name: "only empty parts",
                sizes: vec![0, 0],
                max: 10,
                best: 0,
                outputs: 1,
            },
            Case {
                name: "exactly max",
                sizes: vec![10, 3],
                max: 10,
                best: 10,
                outputs: 2,
            },
            Case {
                name: "oversized goes alone",
                sizes: vec![3, 25, 4],
                max: 10,
                best: 25,
                outputs: 2,
            },
            Case {
                name: "all fit",
                sizes: vec![1, 2, 3],
                max: 10,
                best: 6,
                outputs: 1,
            },
            Case {
                name: "caps over 4 GiB",
                sizes: vec![3 << 30, 2 << 30, 1 << 30, 1],
                max: 4096 * MIB,
                best: 4 << 30,
                outputs: 2,
            },
        ]
    }

    #[test]
    fn table_through_every_path() {
        for case in cases() {
            let picked = select(&case.sizes, case.max);
            assert_eq!(
                total(&case.sizes, &picked),
                case.best,
                "{}: select",
                case.name
            );
            let greedy = greedy_select(&case.sizes, case.max);
            assert!(
                total(&case.sizes, &greedy) <= case.best,
                "{}: greedy",
                case.name
            );
            let plan = plan_all(&case.sizes, case.max);
            assert_eq!(plan.len(), case.outputs, "{}: plan_all", case.name);
            let mut seen: Vec<u32> = plan.concat();
            seen.sort_unstable();
            assert_eq!(
                seen,
                (0..case.sizes.len() as u32).collect::<Vec<_>>(),
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn ab2d_greedy_makes_three_where_two_suffice() {
        let unit = 104_857;
        let sizes: Vec<u64> = [5, 4, 3, 3, 3, 2].iter().map(|u| u * unit).collect();
        assert_eq!(ab2d_outputs(&sizes, MIB), 3);
        assert_eq!(plan_all(&sizes, MIB).len(), 2);
    }

    #[test]
    fn removing_sorted_indices_keeps_the_rest_in_order() {
        let mut items: Vec<char> = "abcdefg".chars().collect();
        remove_sorted(&mut items, &[0, 3, 4, 6]);
        assert_eq!(items, ['b', 'c', 'f']);
        remove_sorted(&mut items, &[]);
        assert_eq!(items, ['b', 'c', 'f']);
        remove_sorted(&mut items, &[0, 1, 2]);
        assert!(items.is_empty());
    }

    #[test]
    fn trigger_is_strictly_greater() {
        assert!(!should_aggregate(2 * MIB, 2 * MIB));
        assert!(should_aggregate(2 * MIB + 1, 2 * MIB));
        assert!(!should_aggregate(0, 0));
    }

    #[test]
    fn parts_beyond_the_search_window_still_fill_the_output() {
        // The greedy prefix leaves 335 bytes of room and over 10,000 parts of
        // 10 bytes; the window holds only those, and only the five parts of
        // 1 byte beyond it make the output exact.
        let mut sizes = vec![10; 20_000];
        sizes.extend([1; 5]);
        let picked = select(&sizes, 100_005);
        assert!(each_once(&picked));
        assert_eq!(total(&sizes, &picked), 100_005);
    }

    #[test]
    fn large_inputs_stay_cheap() {
        let sizes: Vec<u64> = (0..100_000u64)
            .map(|i| 1_000 + (i * 7919) % 9_000)
            .collect();
        let picked = select(&sizes, 200 * MIB);
        let fill = total(&sizes, &picked);
        assert!(fill <= 200 * MIB && fill > 200 * MIB - 1_000, "fill {fill}");
    }

    proptest! {
        #[test]
        fn selections_are_sound_and_no_worse_than_greedy(
            sizes in proptest::collection::vec(0u64..2_000, 0..60),
            max in 1u64..3_000,
        ) {
            let picked = select(&sizes, max);
            prop_assert!(each_once(&picked), "a part picked twice");
            let fill = total(&sizes, &picked);
            let nonzero = picked.iter().filter(|&&i| sizes[i as usize] > 0).count();
            prop_assert!(fill <= max || nonzero == 1, "over max with {} parts", nonzero);
            prop_assert!(fill >= total(&sizes, &greedy_select(&sizes, max)));
            prop_assert_eq!(
                picked.len() - nonzero,
                sizes.iter().filter(|&&s| s == 0).count(),
                "zero parts ride along"
            );

            let plan = plan_all(&sizes, max);
            let mut all: Vec<u32> = plan.concat();
            all.sort_unstable();
            prop_assert_eq!(all, (0..sizes.len() as u32).collect::<Vec<_>>(), "lost or repeated");
            for output in &plan {
                let nonzero = output.iter().filter(|&&i| sizes[i as usize] > 0).count();
                prop_assert!(total(&sizes, output) <= max || nonzero == 1);
            }
            prop_assert!(plan.len() <= ab2d_outputs(&sizes, max));
        }

        #[test]
        fn many_small_parts_fill_at_least_as_well_as_greedy(
            sizes in proptest::collection::vec(1u64..60, 0..3_000),
            max in 500u64..20_000,
        ) {
            // Parts this small relative to the output take the greedy prefix.
            let fill = checked_fill(&sizes, max)?;
            let all: u64 = sizes.iter().sum();
            let largest = sizes.iter().copied().max().unwrap_or(0);
            prop_assert!(fill + largest >= all.min(max), "fill {} of {}", fill, all.min(max));
        }

        #[test]
        fn small_instances_are_exact(
            sizes in proptest::collection::vec(1u64..100, 0..12),
            max in 1u64..300,
        ) {
            // Exhaustive optimum over every subset.
            let n = sizes.len();
            let mut optimum = 0;
            for mask in 0u32..(1 << n) {
                let sum: u64 = (0..n).filter(|b| mask & (1 << b) != 0).map(|b| sizes[b]).sum();
                if sum <= max { optimum = optimum.max(sum); }
            }
            let fill = total(&sizes, &select(&sizes, max));
            if sizes.iter().all(|&s| s <= max) {
                prop_assert_eq!(fill, optimum);
            }
        }
    }

    proptest! {
        // Thousands of parts a case: fewer cases.
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn a_tail_longer_than_the_search_window_fills_as_well_as_greedy(
            sizes in proptest::collection::vec(1u64..60, SEARCH_WINDOW * 2..SEARCH_WINDOW * 3),
            max in 5_000u64..50_000,
        ) {
            // After the greedy prefix, more parts are left than the search
            // tries: the greedy answer over all of them still bounds it.
            checked_fill(&sizes, max)?;
        }
    }
}
