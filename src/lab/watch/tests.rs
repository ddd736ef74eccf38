use super::*;

fn busy(line: &str) -> WorkerState {
    WorkerState::Busy { request_line: line.into(), since: Instant::now() }
}

/// `workers` with the busy ones at `busy_at`, and totals that add up.
fn snapshot(workers: usize, busy_at: &[usize], queue_counted: bool) -> Snapshot {
    let workers: Vec<WorkerState> = (0..workers)
        .map(|i| if busy_at.contains(&i) { busy(&format!("GET /{i} HTTP/1.1")) } else { WorkerState::Idle })
        .collect();
    let in_flight = busy_at.len();
    Snapshot {
        workers,
        served: 3,
        in_flight,
        queued: 2,
        connections: in_flight + 5,
        accepted: 9,
        queue_counted,
    }
}

/// Characters on screen, colour codes left out.
fn width(line: &str) -> usize {
    let mut n = 0;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            chars.by_ref().find(|c| *c == 'm');
        } else {
            n += 1;
        }
    }
    n
}

/// The text a terminal shows after `output`, for what [`redraw`] writes: characters,
/// `\r`, `\n`, and the controls up (`A`), erase line (`K`) and erase below (`J`); colour
/// and autowrap are ignored (a line here never wraps).
fn screen(output: &str) -> Vec<String> {
    let (mut rows, mut row, mut col): (Vec<Vec<char>>, usize, usize) = (vec![Vec::new()], 0, 0);
    let mut chars = output.chars();
    while let Some(c) = chars.next() {
        match c {
            '\r' => col = 0,
            '\n' => (row, col) = (row + 1, 0),
            '\x1b' => {
                // `ESC [`, the parameters, then the letter that names the control.
                let mut parameters = String::new();
                let control = chars.by_ref().skip(1).find(|c| {
                    let parameter = c.is_ascii_digit() || *c == ';' || *c == '?';
                    if parameter {
                        parameters.push(*c);
                    }
                    !parameter
                });
                match control {
                    Some('A') => row = row.saturating_sub(parameters.parse().unwrap_or(1)),
                    Some(erase @ ('K' | 'J')) => {
                        if erase == 'J' {
                            rows.truncate(row + 1);
                        }
                        if let Some(line) = rows.get_mut(row) {
                            line.truncate(col);
                        }
                    }
                    _ => {} // colour (`m`), autowrap (`?7l`, `?7h`)
                }
            }
            c => {
                rows.resize(rows.len().max(row + 1), Vec::new());
                let line = &mut rows[row];
                line.resize(line.len().max(col + 1), ' ');
                line[col] = c;
                col += 1;
            }
        }
    }
    let mut shown: Vec<String> = rows.iter().map(|r| r.iter().collect()).collect();
    // An empty line below the text is no line of it.
    while shown.last().is_some_and(String::is_empty) {
        shown.pop();
    }
    shown
}

/// Frames of the same server as it serves more (`served`), with `workers` workers.
fn frame(served: u64, workers: usize) -> Vec<String> {
    let s = Snapshot { served, ..snapshot(workers, &[0], true) };
    layout(&s, 0.0, Screen { rows: 20, cols: 100 }, Instant::now())
}

#[test]
fn the_last_frame_replaces_the_one_drawn_before_a_ctrl_c() {
    let (live, last) = (frame(1, 3), frame(2, 3));
    // What the terminal receives: the startup line, a frame, the echo of Ctrl+C at the
    // cursor, the last frame, then the shutdown lines printed after the view stopped.
    let mut output = format!("Serving on http://127.0.0.1:8080/\n{}", redraw(0, &live));
    output += "^C";
    output += &redraw(live.len(), &last);
    output += "\nShutting down (Ctrl+C again to quit at once)...\n";
    let expected = format!(
        "Serving on http://127.0.0.1:8080/\n{}\n\nShutting down (Ctrl+C again to quit at once)...\n",
        last.join("\n")
    );
    let shown = screen(&output);
    assert_eq!(shown, screen(&expected));
    assert_eq!(shown.iter().filter(|l| l.starts_with("connections ")).count(), 1, "{shown:#?}");
}

#[test]
fn a_shorter_frame_leaves_nothing_of_the_taller_one() {
    let (tall, short) = (frame(1, 6), frame(2, 2));
    let shown = screen(&(redraw(0, &tall) + &redraw(tall.len(), &short)));
    assert_eq!(shown, screen(&(short.join("\n") + "\n")));
}

#[test]
fn a_frame_fits_every_height_and_width() {
    let s = snapshot(17, &[2, 9, 16], true);
    for rows in 0..25 {
        for cols in [0, 1, 10, 11, 12, 13, 14, 40, 80] {
            let lines = layout(&s, 1.0, Screen { rows, cols }, Instant::now());
            assert!(lines.len() <= rows, "{rows} rows: {lines:?}");
            assert!(lines.iter().all(|l| width(l) <= cols), "{cols} cols: {lines:?}");
            if rows > 0 {
                assert_eq!(lines[0], fit(&summary(&s, 1.0), cols));
            }
        }
    }
}

#[test]
fn idle_workers_that_do_not_fit_collapse_into_one_line() {
    let s = snapshot(17, &[2, 9, 16], true);
    let lines = layout(&s, 1.0, Screen { rows: 6, cols: 80 }, Instant::now());
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert!(lines[0].starts_with("connections 8: queued 2 · in flight 3 · idle/reading 3"), "{lines:?}");
    for (line, i) in lines[1..4].iter().zip([2, 9, 16]) {
        assert!(line.contains(&format!("worker {i:<2}")) && line.contains(&format!("GET /{i} ")), "{line}");
    }
    assert_eq!(lines[4], "… 14 more workers idle");
}

#[test]
fn busy_workers_that_do_not_fit_are_counted_too() {
    let s = snapshot(17, &[2, 9, 16], true);
    let lines = layout(&s, 1.0, Screen { rows: 3, cols: 80 }, Instant::now());
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[1].contains("worker 2 "), "{lines:?}");
    assert_eq!(lines[2], "… 16 more workers: 2 busy, 14 idle");
    let lines = layout(&s, 1.0, Screen { rows: 2, cols: 80 }, Instant::now());
    assert_eq!(lines[1], "… 17 workers: 3 busy, 14 idle");
}

#[test]
fn all_workers_show_when_they_fit() {
    let s = snapshot(4, &[1], true);
    let lines = layout(&s, 1.0, Screen { rows: 5, cols: 80 }, Instant::now());
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert!(lines[1].contains("worker 0") && lines[1].contains("idle"), "{lines:?}");
    assert!(lines[2].contains("busy") && lines[2].contains("GET /1 HTTP/1.1  for "), "{lines:?}");
}

#[test]
fn an_uncounted_queue_shows_no_number_and_says_why_when_there_is_room() {
    let s = Snapshot { queued: 0, ..snapshot(2, &[0], false) };
    let lines = layout(&s, 1.0, Screen { rows: 10, cols: 200 }, Instant::now());
    assert!(lines[0].starts_with("connections 6: queued — · in flight 1 · not running 5"), "{lines:?}");
    assert!(lines[3].starts_with("queued —: this server keeps no queue"), "{lines:?}");
    let lines = layout(&s, 1.0, Screen { rows: 3, cols: 200 }, Instant::now());
    assert_eq!(lines.len(), 3, "the note gives way to the workers: {lines:?}");
}

#[test]
fn a_long_request_line_is_cut_not_wrapped() {
    let long = format!("GET /{} HTTP/1.1", "x".repeat(300));
    let s = Snapshot { workers: vec![busy(&long)], ..snapshot(1, &[0], true) };
    let lines = layout(&s, 1.0, Screen { rows: 5, cols: 60 }, Instant::now());
    assert_eq!(width(&lines[1]), 60, "{lines:?}");
    assert!(lines[1].contains("…  for "), "the time survives the cut: {lines:?}");
}
