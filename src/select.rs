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
//! The aggregator keeps tens of thousands of waiting parts, so it selects in
//! place ([`select_in_place`], [`plan_in_place`]): the parts themselves are
//! sorted and the chosen ones moved to the end, where the caller takes them. No
//! order of indices, no list of positions and no copy of the sizes is made
//! beside them; a selection allocates only bounded scratch (the search's, and
//! the few parts it picks out of order). [`select`], [`greedy_select`] and
//! [`plan_all`] do the same on sizes paired with their indices.
//!
//! Parts of zero bytes always ride along with the next selection (they cost
//! nothing and must leave `finished/`). A part larger than `max_bytes` becomes an
//! output alone.

use std::cmp::Reverse;
use std::ops::Range;

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

/// A waiting part as selections see it: its size (`u64::from`), and an order
/// that settles which of two parts of equal size comes first, so that a
/// selection depends only on the parts given, not on their order.
pub trait Size: Copy + Ord + Into<u64> {}

impl Size for u64 {}
impl Size for u32 {}

/// Whether `waiting` bytes of one kind call for an output while the job runs:
/// strictly more than the trigger (`multiplier × max_bytes`), as upstream.
pub fn should_aggregate(waiting: u64, trigger: u64) -> bool {
    waiting > trigger
}

/// Sorts `parts` and moves those of one output to their end: returns how many
/// they are. The output is as close to `max_bytes` as [`select`] makes it; every
/// zero-size part is in it. The parts left before it stay sorted.
pub fn select_in_place<T: Size>(parts: &mut [T], max_bytes: u64) -> usize {
    take_one(parts, max_bytes, best_fit)
}

/// Sorts `parts` and arranges them into outputs, packed as [`plan_all`]
/// packs: returns the number of parts of each output. The first output is at
/// the end of `parts`, the second just before it, and so on; the zero-size
/// parts go with the first.
pub fn plan_in_place<T: Size>(parts: &mut [T], max_bytes: u64) -> Vec<usize> {
    // Greedy's packing is counted first; best fit is kept unless greedy needs
    // fewer outputs. Each packing sorts the parts again: it reorders them.
    let greedy = pack(parts, max_bytes, greedy_fit);
    let best = pack(parts, max_bytes, best_fit);
    if greedy.len() < best.len() {
        pack(parts, max_bytes, greedy_fit)
    } else {
        best
    }
}

/// Indices (into `sizes`) of the parts for one output, largest first. Indices
/// are `u32`: tens of thousands of parts may wait.
///
/// Empty input gives an empty selection. Every zero-size part is included.
pub fn select<S: Size>(sizes: &[S], max_bytes: u64) -> Vec<u32> {
    let mut parts = indexed(sizes);
    let picked = select_in_place(&mut parts, max_bytes);
    indices(&parts[parts.len() - picked..])
}

/// AB2D's selection: parts largest first, each taken if it still fits; a part
/// larger than `max_bytes` goes alone. Kept as the baseline for tests and benches.
pub fn greedy_select<S: Size>(sizes: &[S], max_bytes: u64) -> Vec<u32> {
    let mut parts = indexed(sizes);
    let picked = take_one(&mut parts, max_bytes, greedy_fit);
    indices(&parts[parts.len() - picked..])
}

/// Packs every part into outputs: repeated [`select`], unless repeated
/// [`greedy_select`] would need fewer outputs. Each inner vector is one output.
pub fn plan_all<S: Size>(sizes: &[S], max_bytes: u64) -> Vec<Vec<u32>> {
    let mut parts = indexed(sizes);
    let outputs = plan_in_place(&mut parts, max_bytes);
    output_ranges(parts.len(), &outputs)
        .map(|range| indices(&parts[range]))
        .collect()
}

/// Where the outputs of a [`plan_in_place`] that returned `outputs` lie among
/// its `len` parts, first output first.
pub fn output_ranges(len: usize, outputs: &[usize]) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut end = len;
    outputs.iter().map(move |&output| {
        end -= output;
        end..end + output
    })
}

/// A size and its index: what the index-based selections sort. Equal sizes
/// order by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Indexed<S> {
    size: S,
    index: u32,
}

impl<S: Size> From<Indexed<S>> for u64 {
    fn from(part: Indexed<S>) -> u64 {
        part.size.into()
    }
}

impl<S: Size> Size for Indexed<S> {}

/// The sizes paired with their indices (checked to fit `u32` when sorted).
fn indexed<S: Size>(sizes: &[S]) -> Vec<Indexed<S>> {
    (0..)
        .zip(sizes)
        .map(|(index, &size)| Indexed { size, index })
        .collect()
}

fn indices<S>(parts: &[Indexed<S>]) -> Vec<u32> {
    parts.iter().map(|part| part.index).collect()
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

/// Sorts `parts` largest first (equal sizes by their order); returns how
/// many are not empty (the empty ones are last).
fn sort_descending<T: Size>(parts: &mut [T]) -> usize {
    // Positions are `u32`.
    assert!(
        u32::try_from(parts.len()).is_ok(),
        "fewer than 2³² parts wait"
    );
    parts.sort_unstable_by_key(|&part| (Reverse(part.into()), part));
    parts.partition_point(|&part| part.into() > 0)
}

/// Sorts `parts` and moves the output `choose_with` picks (and every empty
/// part) to their end; returns how many parts it has.
fn take_one<T: Size>(parts: &mut [T], max_bytes: u64, choose_with: Choose<T>) -> usize {
    let live = sort_descending(parts);
    take_from(&mut parts[..live], max_bytes, choose_with) + (parts.len() - live)
}

/// Repeated selections with `choose` over `parts` (sorted first), each
/// output moved behind what is left; returns the parts of each output, the
/// first output last in `parts`. The zero-size parts go with the first.
fn pack<T: Size>(parts: &mut [T], max_bytes: u64, choose_with: Choose<T>) -> Vec<usize> {
    let mut live = sort_descending(parts);
    let mut outputs = Vec::new();
    let mut zeros = parts.len() - live;
    while live > 0 || zeros > 0 {
        let taken = take_from(&mut parts[..live], max_bytes, choose_with);
        live -= taken;
        outputs.push(taken + zeros);
        zeros = 0;
    }
    outputs
}

/// The positions (in a slice sorted largest first) of one output's parts:
/// the first `run` positions, then `rest` (ascending, each past `run`).
/// Outputs of small parts take a long run of the largest and a few more, so
/// this holds little however many parts an output takes.
#[derive(Debug, Default)]
struct Picked {
    run: usize,
    rest: Vec<u32>,
}

impl Picked {
    fn push(&mut self, position: usize) {
        if position == self.run && self.rest.is_empty() {
            self.run += 1;
        } else {
            self.rest.push(position as u32);
        }
    }

    fn len(&self) -> usize {
        self.run + self.rest.len()
    }
}

/// Chooses the positions of one output's parts in a slice sorted largest
/// first, with no empty part and none larger than the cap first.
type Choose<T> = fn(Descending<'_, T>, u64) -> Picked;

/// Moves one output's parts to the end of `live` (sorted, no empty part);
/// returns how many they are. A part larger than `max_bytes` goes alone,
/// otherwise `choose_with` decides.
fn take_from<T: Size>(live: &mut [T], max_bytes: u64, choose_with: Choose<T>) -> usize {
    let view = Descending { parts: live };
    let picked = if view.len() > 0 && view.size(0) > max_bytes {
        Picked {
            run: 1,
            rest: Vec::new(),
        }
    } else {
        choose_with(view, max_bytes)
    };
    move_to_back(live, &picked);
    picked.len()
}

/// Moves the parts at `picked` to the end of `live`, the others keeping
/// their order before them: the run of the largest, then the rest.
fn move_to_back<T: Copy>(live: &mut [T], picked: &Picked) {
    let rest: Vec<T> = picked.rest.iter().map(|&p| live[p as usize]).collect();
    let mut next = picked.rest.iter().map(|&p| p as usize).peekable();
    let mut kept = picked.run;
    for position in picked.run..live.len() {
        if next.next_if_eq(&position).is_none() {
            live[kept] = live[position];
            kept += 1;
        }
    }
    live[kept..].copy_from_slice(&rest);
    live[..kept].rotate_left(picked.run);
}

/// Parts sorted descending, read by position.
#[derive(Debug)]
struct Descending<'a, T> {
    parts: &'a [T],
}

// Derived, these would ask `T: Clone`; a view is copied whatever it reads.
impl<T> Clone for Descending<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Descending<'_, T> {}

impl<'a, T: Size> Descending<'a, T> {
    fn len(&self) -> usize {
        self.parts.len()
    }

    fn size(&self, position: usize) -> u64 {
        self.parts[position].into()
    }

    /// The positions `from..` (positions restart at 0).
    fn skip(&self, from: usize) -> Descending<'a, T> {
        Descending {
            parts: &self.parts[from..],
        }
    }

    /// The first `len` positions.
    fn take(&self, len: usize) -> Descending<'a, T> {
        Descending {
            parts: &self.parts[..len.min(self.parts.len())],
        }
    }

    /// The first position from `from` on whose size is at most `room`.
    fn first_fitting(&self, from: usize, room: u64) -> usize {
        from + self.parts[from..].partition_point(|&part| part.into() > room)
    }
}

/// Greedy's positions.
fn greedy_fit<T: Size>(sizes: Descending<'_, T>, cap: u64) -> Picked {
    let mut picked = Picked::default();
    greedy(sizes, cap, |position| picked.push(position));
    picked
}

/// Greedy for the largest parts, then the bounded search (see
/// [`SEARCH_ROOM`] and [`SEARCH_WINDOW`]).
fn best_fit<T: Size>(sizes: Descending<'_, T>, cap: u64) -> Picked {
    let (mut fixed, mut taken) = (0, 0u64);
    while fixed < sizes.len() {
        let next = sizes.size(fixed);
        if taken + next + SEARCH_ROOM.saturating_mul(next) > cap {
            break;
        }
        taken += next;
        fixed += 1;
    }
    let mut picked = Picked {
        run: fixed,
        rest: Vec::new(),
    };
    for position in search(sizes.skip(fixed), cap - taken) {
        picked.push(position as usize + fixed);
    }
    picked
}

/// Largest-first pass: gives each position taken to `take`, in order;
/// returns their sum.
fn greedy<T: Size>(sizes: Descending<'_, T>, cap: u64, mut take: impl FnMut(usize)) -> u64 {
    let mut sum = 0u64;
    for pos in 0..sizes.len() {
        let s = sizes.size(pos);
        if s <= cap - sum {
            sum += s;
            take(pos);
            if sum == cap {
                break;
            }
        }
    }
    sum
}

/// Branch and bound over the first [`SEARCH_WINDOW`] positions, seeded with
/// the greedy answer over all of them and capped at [`SEARCH_BUDGET`] steps.
/// Returns positions, ascending.
fn search<T: Size>(all: Descending<'_, T>, cap: u64) -> Vec<u32> {
    let mut best = Vec::new();
    let mut best_sum = greedy(all, cap, |position| best.push(position as u32));
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

    /// Whether `parts` descend by size.
    fn descending(parts: &[u64]) -> bool {
        parts.windows(2).all(|w| w[0] >= w[1])
    }

    #[test]
    fn an_output_selected_in_place_is_moved_to_the_end() {
        let mut parts = vec![2, 0, 9, 4, 1, 6, 0, 3];
        let picked = select_in_place(&mut parts, 10);
        let (left, output) = parts.split_at(parts.len() - picked);
        assert_eq!(output.iter().sum::<u64>(), 10);
        assert_eq!(
            output.iter().filter(|&&s| s == 0).count(),
            2,
            "zeros ride along"
        );
        assert!(descending(left), "what is left stays sorted: {left:?}");
        let mut all = parts.clone();
        all.sort_unstable();
        assert_eq!(all, [0, 0, 1, 2, 3, 4, 6, 9], "no part lost or repeated");
    }

    #[test]
    fn a_plan_in_place_lays_its_outputs_out_from_the_end() {
        let mut parts: Vec<u64> = vec![5, 0, 9, 4, 1];
        let outputs = plan_in_place(&mut parts, 10);
        // The first output, 9 + 1 and the empty part, last; then 5 + 4.
        assert_eq!(outputs, [3, 2]);
        let (second, first) = parts.split_at(2);
        assert!(first.contains(&0), "zeros go with the first output");
        assert_eq!(first.iter().sum::<u64>(), 10, "{parts:?}");
        assert_eq!(second.iter().sum::<u64>(), 9, "{parts:?}");
    }

    #[test]
    fn moving_to_the_back_keeps_every_part_once_and_the_rest_in_order() {
        let live: Vec<u32> = (0..8).collect();
        for mask in 0u32..(1 << live.len()) {
            let mut picked = Picked::default();
            (0..live.len())
                .filter(|p| mask & (1 << p) != 0)
                .for_each(|p| picked.push(p));
            let mut moved = live.clone();
            move_to_back(&mut moved, &picked);
            let (kept, taken) = moved.split_at(live.len() - picked.len());
            let expected_kept: Vec<u32> = live
                .iter()
                .copied()
                .filter(|p| mask & (1 << p) == 0)
                .collect();
            let mut taken = taken.to_vec();
            taken.sort_unstable();
            let expected_taken: Vec<u32> = live
                .iter()
                .copied()
                .filter(|p| mask & (1 << p) != 0)
                .collect();
            assert_eq!(
                (kept, taken),
                (&expected_kept[..], expected_taken),
                "mask {mask:08b}"
            );
        }
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
        fn selecting_in_place_matches_selecting_by_index(
            sizes in proptest::collection::vec(0u64..2_000, 0..200),
            max in 1u64..5_000,
        ) {
            let by_index = total(&sizes, &select(&sizes, max));
            let mut parts = sizes.clone();
            let picked = select_in_place(&mut parts, max);
            let (left, output) = parts.split_at(parts.len() - picked);
            prop_assert_eq!(output.iter().sum::<u64>(), by_index);
            prop_assert!(descending(left));
            prop_assert!(!left.contains(&0), "zeros ride along");

            let mut parts = sizes.clone();
            let outputs = plan_in_place(&mut parts, max);
            prop_assert_eq!(outputs.len(), plan_all(&sizes, max).len());
            prop_assert_eq!(outputs.iter().sum::<usize>(), parts.len());
            let mut end = parts.len();
            for (n, &len) in outputs.iter().enumerate() {
                let output = &parts[end - len..end];
                end -= len;
                let nonzero = output.iter().filter(|&&s| s > 0).count();
                prop_assert!(output.iter().sum::<u64>() <= max || nonzero == 1, "output {} over max", n);
                prop_assert!(n == 0 || !output.contains(&0), "zeros ride with the first output");
            }
            let (mut sorted, mut expected) = (parts.clone(), sizes.clone());
            sorted.sort_unstable();
            expected.sort_unstable();
            prop_assert_eq!(sorted, expected, "lost or repeated");
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
