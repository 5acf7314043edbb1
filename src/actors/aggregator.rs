//! The [`Aggregator`] actor: combines finished parts into size-capped outputs
//! while the job runs.
//!
//! # Messages
//!
//! | message | sent by | when | answer |
//! |---|---|---|---|
//! | [`FileFinished`] | a fetcher (or the directory scan) | a part reached `finished/` | — |
//! | [`StreamingClosed`] | the supervisor | every writer is done, `streaming/` removed | the count of aggregations, once everything is combined and `finished/` removed |
//! | [`AwaitCompletion`] | anyone | any time | the same count, once the aggregator is done (closed by message or, in watch mode, by `streaming/` disappearing) |
//! | [`Cancel`] | the supervisor | the job is cancelled or failed | `()` once no combine is running any more |
//!
//! The aggregator also tells an optional observer (the supervisor) of each output
//! and of a failure, through `Recipient<AggregatorEvent>`.
//!
//! # States
//!
//! *adopting* (one scan of the job directory: existing parts are adopted, output
//! numbering continues after the highest output) → *running* (an output is made
//! whenever more than `multiplier × max_bytes` of one kind wait) → *closing*
//! (everything left is packed with [`select::plan_all`]) → *removing*
//! (`finished/` removed) → *done* (waiters answered, actor stopped). A cancel or
//! a failed step turns adopting, running or closing into *stopping*: the work in
//! flight stops at its next part, then the aggregator is done with the first
//! failure, or cancelled. Each state is a variant of `State` that carries its
//! data, with the work it has in flight on blocking threads.
//!
//! All file work (scans, combining, fsync, checksums) runs on `spawn_blocking`
//! threads: up to four aggregation steps at once (while some wait on the
//! device, the others combine and checksum), a scan or the final cleanup
//! alone. The actor itself only does bookkeeping, so it answers its mailbox
//! while steps are in flight. A failed step cancels the others; the
//! first error is the outcome once none runs. Parts are tracked from
//! messages: the hot path never rescans the directory. In watch mode
//! ([`Aggregator::watch`]) it also scans `finished/` every poll interval, for parts
//! written by other processes, and closes itself when `streaming/` is gone;
//! before its first scan it recovers the job directory as a resumed job does
//! ([`recovery::recover_aggregation`]), since nothing else did.

use std::collections::{HashSet, VecDeque};
use std::fs;
use std::io::ErrorKind;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures::channel::oneshot;

use crate::actors::messages::{
    AggregatorEvent, AwaitCompletion, Cancel, FileFinished, StreamingClosed,
};
use crate::config::JobConfig;
use crate::error::{Error, IoContext, Result};
use crate::fault::fault_point;
use crate::report::{JobOutput, ProgressCounters};
use crate::select;
use crate::store::combine::AggregationStep;
use crate::store::layout::{FileKind, JobLayout, CLAIM_PREFIX};
use crate::store::part_names::PartNames;
use crate::store::publish_order::PublishOrder;
use crate::store::recovery;
use crate::store::untrusted::{self, Opened};
use crate::store::waiting::WaitingParts;

/// Aggregation steps that may run at once: each alternates CPU work with waits
/// on the device (direct writes, fsyncs), and four, each with its own combine
/// buffer, keep both busy.
pub(crate) const STEPS_IN_FLIGHT: usize = 4;

/// A group of parts of one kind for one output, and their bytes.
type Group = (FileKind, PartNames, u64);

/// What one scan of the job directory found.
#[derive(Debug, Default)]
struct Scan {
    streaming_exists: bool,
    /// Parts in `finished/`: kind, name, bytes.
    parts: Vec<(FileKind, String, u64)>,
    strays: Vec<String>,
    highest_output: [u32; 2],
}

/// Where the aggregator is (see the module docs), with what it holds there.
#[derive(Debug)]
enum State {
    /// The first scan of the job directory runs (in watch mode after
    /// recovery): outputs cannot be numbered yet. `closed`: every writer
    /// finished meanwhile.
    Adopting { closed: bool },
    /// An output is made whenever more than `multiplier × max_bytes` of one
    /// kind wait; `order` makes the steps publish in number order.
    Running {
        order: Arc<PublishOrder>,
        work: Work,
    },
    /// Every writer is done: what is left is packed and combined, then
    /// `finished/` removed.
    Closing {
        order: Arc<PublishOrder>,
        work: Work,
    },
    /// Everything is combined: `finished/` is being removed, alone.
    Removing,
    /// Cancelled, or a step failed: the running work stops at its next part,
    /// then `outcome` (the first failure, else [`Error::Cancelled`]) ends the
    /// aggregator.
    Stopping { work: Work, outcome: Arc<Error> },
    /// Ended: every waiter gets this answer.
    Done(Result<u64, Arc<Error>>),
}

/// The file work of a state that runs on blocking threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Work {
    /// This many aggregation steps, at most [`STEPS_IN_FLIGHT`] (none at 0).
    Steps(usize),
    /// A scan of the job directory, alone.
    Scan,
}

/// Combines finished parts into outputs `<contract>_0001.ndjson`, … (see the
/// module docs for its messages and states).
pub struct Aggregator {
    layout: JobLayout,
    max_bytes: u64,
    trigger_bytes: u64,
    /// Parts waiting, per kind (index by `kind as usize`).
    waiting: [WaitingParts; 2],
    /// Groups packed at close, made one after the other.
    planned: VecDeque<Group>,
    next_number: [u32; 2],
    state: State,
    aggregations: u64,
    waiters: Vec<oneshot::Sender<Result<u64>>>,
    /// Set when stopping: read by the steps between parts, and while they
    /// wait for their turn to publish.
    cancel: Arc<AtomicBool>,
    cancel_waiters: Vec<oneshot::Sender<()>>,
    strays_seen: HashSet<String>,
    observer: Option<Recipient<AggregatorEvent>>,
    progress: Arc<ProgressCounters>,
    poll: Option<Duration>,
}

impl Aggregator {
    /// An aggregator for the job of `config`, fed by [`FileFinished`] messages.
    pub fn new(config: &JobConfig) -> Self {
        Aggregator {
            layout: config.layout(),
            max_bytes: config.max_bytes(),
            trigger_bytes: config.trigger_bytes(),
            waiting: FileKind::ALL.map(WaitingParts::new),
            planned: VecDeque::new(),
            next_number: [1; 2],
            state: State::Adopting { closed: false },
            aggregations: 0,
            waiters: Vec::new(),
            cancel: Arc::new(AtomicBool::new(false)),
            cancel_waiters: Vec::new(),
            strays_seen: HashSet::new(),
            observer: None,
            progress: Arc::default(),
            poll: None,
        }
    }

    /// Also scans `finished/` every `poll` for parts written by other processes,
    /// and closes when `streaming/` is gone. Off by default.
    pub fn watch(mut self, poll: Duration) -> Self {
        self.poll = Some(poll);
        self
    }

    /// Counts aggregations in `progress`. Default: counters of its own.
    pub fn progress(mut self, progress: Arc<ProgressCounters>) -> Self {
        self.progress = progress;
        self
    }

    /// Tells `observer` of every output and of a failure. Default: nobody.
    pub fn observer(mut self, observer: Recipient<AggregatorEvent>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The file work of the current state, in those that have some.
    fn work_mut(&mut self) -> Option<&mut Work> {
        match &mut self.state {
            State::Running { work, .. }
            | State::Closing { work, .. }
            | State::Stopping { work, .. } => Some(work),
            State::Adopting { .. } | State::Removing | State::Done(_) => None,
        }
    }

    /// Aggregation steps running.
    fn steps(&mut self) -> usize {
        match self.work_mut() {
            Some(Work::Steps(steps)) => *steps,
            _ => 0,
        }
    }

    /// Every writer is done: close once adopted.
    fn close(&mut self) {
        match &mut self.state {
            State::Adopting { closed } => *closed = true,
            State::Running { order, work } => {
                self.state = State::Closing {
                    order: order.clone(),
                    work: *work,
                }
            }
            _ => {}
        }
    }

    /// Stops on `failure`, or on a cancel when `None`: tells running steps to
    /// stop, waking any waiting for its turn to publish. The first failure is
    /// the outcome. Removing `finished/` is not stopped.
    fn stop(&mut self, failure: Option<Error>) {
        self.cancel.store(true, Ordering::Relaxed);
        let outcome = failure.map(Arc::new);
        let (work, outcome) = match &mut self.state {
            State::Adopting { .. } => (Work::Scan, outcome),
            State::Running { order, work } | State::Closing { order, work } => {
                order.wake_all();
                (*work, outcome)
            }
            State::Stopping { outcome: first, .. } => {
                if let Some(failure) = outcome {
                    if matches!(**first, Error::Cancelled) {
                        *first = failure;
                    }
                }
                return;
            }
            State::Removing | State::Done(_) => return,
        };
        self.state = State::Stopping {
            work,
            outcome: outcome.unwrap_or_else(|| Arc::new(Error::Cancelled)),
        };
    }

    /// The next group to combine, if any is due; when `closing`, everything
    /// left is.
    fn next_group(&mut self, closing: bool) -> Option<Group> {
        if let Some(group) = self.planned.pop_front() {
            return Some(group);
        }
        for kind in FileKind::ALL {
            let waiting = &mut self.waiting[kind as usize];
            if select::should_aggregate(waiting.bytes(), self.trigger_bytes) {
                let (parts, bytes) = waiting.take_selection(self.max_bytes);
                return Some((kind, parts, bytes));
            }
        }
        if closing {
            for kind in FileKind::ALL {
                let groups = self.waiting[kind as usize].take_all(self.max_bytes);
                self.planned.extend(
                    groups
                        .into_iter()
                        .map(|(parts, bytes)| (kind, parts, bytes)),
                );
            }
            return self.planned.pop_front();
        }
        None
    }

    /// Starts the next pieces of work, or finishes.
    fn step(&mut self, ctx: &mut Context<Self>) {
        let closing = match &self.state {
            State::Running {
                work: Work::Steps(_),
                ..
            } => false,
            State::Closing {
                work: Work::Steps(_),
                ..
            } => true,
            State::Stopping {
                work: Work::Steps(0),
                outcome,
            } => {
                let outcome = outcome.clone();
                self.finish(Err(outcome), ctx);
                return;
            }
            // Adopting waits for its scan; a scan or the removal runs alone;
            // stopping waits for its work.
            _ => return,
        };
        while self.steps() < STEPS_IN_FLIGHT {
            match self.next_group(closing) {
                Some(group) => self.start_combine(group, ctx),
                None => break,
            }
        }
        if closing && self.steps() == 0 {
            self.start_removing_finished(ctx);
        }
    }

    /// Starts a step combining `group`; only while running or closing.
    fn start_combine(&mut self, (kind, parts, bytes): Group, ctx: &mut Context<Self>) {
        let (State::Running { order, work } | State::Closing { order, work }) = &mut self.state
        else {
            return;
        };
        let Work::Steps(steps) = work else {
            return;
        };
        let number = (bytes > 0).then(|| {
            let n = self.next_number[kind as usize];
            self.next_number[kind as usize] += 1;
            n
        });
        let step = AggregationStep {
            layout: self.layout.clone(),
            kind,
            number,
            parts,
            order: Some(order.clone()),
            overlapping: *steps > 0,
        };
        *steps += 1;
        log::debug!(
            "job {}: aggregating {} {kind} parts ({bytes} bytes) into {number:?}",
            self.layout.job_id(),
            step.parts.len()
        );
        let cancel = self.cancel.clone();
        let work = actix_rt::task::spawn_blocking(move || step.run(&cancel));
        ctx.spawn(work.into_actor(self).map(|joined, act, ctx| {
            if let Some(Work::Steps(steps)) = act.work_mut() {
                *steps -= 1;
            }
            match flatten(joined, "aggregation") {
                Ok(Some(output)) => act.published(output),
                Ok(None) | Err(Error::Cancelled) => {}
                // The other steps stop at their next part; the first error
                // is the outcome once none runs.
                Err(e) => act.stop(Some(e)),
            }
            act.step(ctx);
        }));
    }

    fn published(&mut self, output: JobOutput) {
        log::info!(
            "job {}: {}: {} records, {} bytes",
            self.layout.job_id(),
            output.file,
            output.records,
            output.bytes
        );
        self.aggregations += 1;
        self.progress.add_aggregations(1);
        if let Some(observer) = &self.observer {
            observer.do_send(AggregatorEvent::Output(output));
        }
    }

    fn start_removing_finished(&mut self, ctx: &mut Context<Self>) {
        let finished = self.layout.finished().to_owned();
        self.state = State::Removing;
        let work = actix_rt::task::spawn_blocking(move || match fs::remove_dir(&finished) {
            Ok(()) => {
                fault_point!("aggregator::finished-removed", &finished);
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) if e.kind() == ErrorKind::DirectoryNotEmpty => {
                log::warn!(
                    "{} kept: it holds files that are not parts",
                    finished.display()
                );
                Ok(())
            }
            Err(e) => Err(Error::io("remove", finished, e)),
        });
        ctx.spawn(work.into_actor(self).map(|joined, act, ctx| {
            let count = act.aggregations;
            act.finish(
                flatten(joined, "cleanup").map(|()| count).map_err(Arc::new),
                ctx,
            );
        }));
    }

    /// Ends the aggregator with `outcome`: answers every waiter, tells the
    /// observer of a failure, stops the actor.
    fn finish(&mut self, outcome: Result<u64, Arc<Error>>, ctx: &mut Context<Self>) {
        if let Err(e) = &outcome {
            if !matches!(**e, Error::Cancelled) {
                log::error!("job {}: aggregation failed: {e}", self.layout.job_id());
                if let Some(observer) = &self.observer {
                    observer.do_send(AggregatorEvent::Failed(e.clone()));
                }
            }
        }
        for waiter in self.waiters.drain(..) {
            let _ = waiter.send(outcome.clone().map_err(Error::Shared));
        }
        for waiter in self.cancel_waiters.drain(..) {
            let _ = waiter.send(());
        }
        self.state = State::Done(outcome);
        ctx.stop();
    }

    /// Scans the job directory, alone: first when adopting, then every poll
    /// interval in watch mode.
    fn start_scan(&mut self, ctx: &mut Context<Self>) {
        let layout = self.layout.clone();
        if let Some(work) = self.work_mut() {
            *work = Work::Scan;
        }
        // Standalone, nobody recovered the directory before this aggregator:
        // its first scan finishes or redoes what a crashed one left.
        let recover = self.poll.is_some() && matches!(self.state, State::Adopting { .. });
        let work = actix_rt::task::spawn_blocking(move || {
            if recover {
                recovery::recover_aggregation(&layout)?;
            }
            scan(&layout)
        });
        ctx.spawn(work.into_actor(self).map(|joined, act, ctx| {
            match flatten(joined, "scan") {
                Ok(scan) => act.apply_scan(scan),
                Err(e) => {
                    act.finish(Err(Arc::new(e)), ctx);
                    return;
                }
            }
            act.step(ctx);
        }));
    }

    fn apply_scan(&mut self, scan: Scan) {
        let work = Work::Steps(0);
        if let State::Adopting { closed } = self.state {
            for kind in FileKind::ALL {
                self.next_number[kind as usize] = scan.highest_output[kind as usize] + 1;
            }
            let order = Arc::new(PublishOrder::new(self.next_number));
            self.state = match closed {
                false => State::Running { order, work },
                true => State::Closing { order, work },
            };
        } else if let Some(scanning) = self.work_mut() {
            *scanning = work;
        }
        for stray in scan.strays {
            if self.strays_seen.insert(stray.clone()) {
                log::warn!(
                    "{}: ignoring {stray:?}, which is not a part",
                    self.layout.finished().display()
                );
            }
        }
        for (kind, name, bytes) in scan.parts {
            self.waiting[kind as usize].adopt(&name, bytes);
        }
        if self.poll.is_some() && !scan.streaming_exists {
            self.close();
        }
    }

    /// Outcome of a finished aggregator, as an answer.
    fn answer(&self) -> Option<Result<u64>> {
        match &self.state {
            State::Done(outcome) => Some(outcome.clone().map_err(Error::Shared)),
            _ => None,
        }
    }

    fn wait(&mut self) -> ResponseFuture<Result<u64>> {
        if let Some(answer) = self.answer() {
            return Box::pin(async move { answer });
        }
        let (tx, rx) = oneshot::channel();
        self.waiters.push(tx);
        Box::pin(async move {
            rx.await.unwrap_or(Err(Error::ActorGone {
                actor: "aggregator",
            }))
        })
    }
}

/// Joins a blocking task's result, turning a panic into an error.
fn flatten<T>(
    joined: std::result::Result<Result<T>, actix_rt::task::JoinError>,
    what: &'static str,
) -> Result<T> {
    joined.unwrap_or_else(|e| {
        log::error!("{what} task panicked: {e}");
        Err(Error::ActorGone {
            actor: "aggregator",
        })
    })
}

/// Lists `finished/` and the job directory. Blocking.
///
/// A job directory, `finished/` or `streaming/` that is a symbolic link is
/// refused: following it would combine and delete files outside the job.
fn scan(layout: &JobLayout) -> Result<Scan> {
    for dir in [layout.job_dir(), layout.finished(), layout.streaming()] {
        if untrusted::is_symlink(dir)? {
            return Err(Error::JobDirectory {
                path: dir.to_owned(),
                reason: "is a symbolic link; refusing to follow it".into(),
            });
        }
    }
    let mut scan = Scan {
        streaming_exists: fs::symlink_metadata(layout.streaming()).is_ok(),
        ..Scan::default()
    };
    // streaming/ is checked first: a part moved before it disappeared is listed below.
    match fs::read_dir(layout.finished()) {
        Ok(entries) => {
            for entry in entries {
                let entry = entry.at("list", layout.finished())?;
                let file_name = entry.file_name();
                let name = file_name.to_string_lossy().into_owned();
                // Not followed: a link is a stray, whatever it points to.
                let meta = entry.metadata().at("stat", &entry.path())?;
                // A part's name is UTF-8; any other name is not one of ours.
                let kind = FileKind::of_part(&name).filter(|_| file_name.to_str().is_some());
                match kind {
                    Some(kind) if meta.is_file() => match part_room(&entry.path())? {
                        PartRoom::Bytes(room) => scan.parts.push((kind, name, room)),
                        PartRoom::NotRegular => scan.strays.push(name),
                        // Taken by a step or moved away since it was listed.
                        PartRoom::Gone => {}
                    },
                    _ if name.starts_with(CLAIM_PREFIX) && meta.is_dir() => {}
                    _ => scan.strays.push(name),
                }
            }
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("list", layout.finished(), e)),
    }
    for entry in fs::read_dir(layout.job_dir()).at("list", layout.job_dir())? {
        let entry = entry.at("list", layout.job_dir())?;
        if let Some((kind, n)) = layout.parse_output_name(&entry.file_name().to_string_lossy()) {
            if n == u32::MAX {
                return Err(Error::JobDirectory {
                    path: entry.path(),
                    reason: "is numbered so high that no output can follow it".into(),
                });
            }
            let highest = &mut scan.highest_output[kind as usize];
            *highest = (*highest).max(n);
        }
    }
    Ok(scan)
}

/// What a listed part takes in an output.
enum PartRoom {
    /// Its size, and one more when it does not end in a newline (the combine
    /// adds one): counted so that the size cap holds.
    Bytes(u64),
    /// It is no longer a regular file: a stray.
    NotRegular,
    /// It is no longer there.
    Gone,
}

/// The [`PartRoom`] of the part at `path`. Blocking.
fn part_room(path: &std::path::Path) -> Result<PartRoom> {
    use std::os::unix::fs::FileExt;
    let (file, len) = match untrusted::open_regular(path)? {
        Opened::Regular(file, len) => (file, len),
        Opened::NotRegular(_) => return Ok(PartRoom::NotRegular),
        Opened::Missing => return Ok(PartRoom::Gone),
    };
    if len == 0 {
        return Ok(PartRoom::Bytes(0));
    }
    let mut last = [0u8];
    file.read_exact_at(&mut last, len - 1)
        .at("read part", path)?;
    Ok(PartRoom::Bytes(len + u64::from(last[0] != b'\n')))
}

impl Actor for Aggregator {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.start_scan(ctx);
        if let Some(poll) = self.poll {
            ctx.run_interval(poll, |act, ctx| {
                if let State::Running {
                    work: Work::Steps(0),
                    ..
                } = act.state
                {
                    act.start_scan(ctx);
                }
            });
        }
    }
}

impl Handler<FileFinished> for Aggregator {
    type Result = ();

    fn handle(&mut self, msg: FileFinished, ctx: &mut Context<Self>) {
        if let State::Stopping { .. } | State::Done(_) = self.state {
            return;
        }
        self.waiting[msg.kind as usize].adopt_batch(msg.batch, msg.bytes);
        self.step(ctx);
    }
}

impl Handler<StreamingClosed> for Aggregator {
    type Result = ResponseFuture<Result<u64>>;

    fn handle(&mut self, _: StreamingClosed, ctx: &mut Context<Self>) -> Self::Result {
        self.close();
        let answer = self.wait();
        self.step(ctx);
        answer
    }
}

impl Handler<AwaitCompletion> for Aggregator {
    type Result = ResponseFuture<Result<u64>>;

    fn handle(&mut self, _: AwaitCompletion, _: &mut Context<Self>) -> Self::Result {
        self.wait()
    }
}

impl Handler<Cancel> for Aggregator {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Cancel, ctx: &mut Context<Self>) -> Self::Result {
        self.stop(None);
        if let State::Done(_) = self.state {
            return Box::pin(async {});
        }
        let (tx, rx) = oneshot::channel();
        self.cancel_waiters.push(tx);
        self.step(ctx);
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}
