//! LOLWUT [VERSION v]: a piece of computer art and the version line, as Redis prints it.
//!
//! Redis's output depends on the version asked for; the art is random, so only its shape is
//! fixed. Ours follows the documented idea of each version, drawn our own way:
//! - 5: Georg Nees's "Schotter" (1968): a grid of squares, the lower rows more and more
//!   rotated and displaced at random, drawn in Braille characters (2×4 pixels each) on
//!   `cols` characters per line. Arguments: `cols squares-per-row squares-per-col`.
//! - 6: a random 8-bit city skyline in four shades of grey, one ANSI-coloured space per
//!   cell. Arguments: `cols rows`.
//! - any other version (Redis 7's own): the version line alone.
//!
//! Arguments past the ones a version reads are ignored, as in Redis.

use crate::command;
use crate::config::REDIS_VERSION;
use crate::engine::args::{is, parse_i64};
use crate::protocol::Reply;
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;

pub static COMMANDS: &[CommandSpec] = &[command!(
    "lolwut",
    -1,
    READONLY | FAST,
    KeySpec::None,
    &["read", "fast"],
    "server",
    "5.0.0",
    "Displays computer art and the Redis version",
    lolwut
)];

fn lolwut(_ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let (version, args) = if argv.len() >= 3 && is(&argv[1], "version") {
        (parse_i64(&argv[2])?, &argv[3..])
    } else {
        (7, &argv[1..])
    };
    // An argument that is given must be an integer; it is then clamped to the version's range.
    let arg = |i: usize, default: i64, max: i64| -> Result<usize, crate::error::CommandError> {
        let n = match args.get(i) {
            Some(a) => parse_i64(a)?,
            None => default,
        };
        Ok(n.clamp(1, max) as usize)
    };
    let text = match version {
        5 => {
            let cols = arg(0, 66, 1000)?;
            let per_row = arg(1, 8, 200)?;
            let per_col = arg(2, 12, 200)?;
            let mut art = schotter(cols, per_row, per_col, &mut Rng::seeded());
            art.push_str("\nGeorg Nees - schotter, plotter on paper, 1968. ");
            art
        }
        6 => {
            let cols = arg(0, 80, 1000)?;
            let rows = arg(1, 20, 1000)?;
            let mut art = skyline(cols, rows, &mut Rng::seeded());
            art.push_str("Dedicated to the 8 bit game developers of past and present.\n");
            art.push_str("Original 8 bit image from Plaguemon by hikikomori. ");
            art
        }
        _ => String::new(),
    };
    Ok(Reply::bulk_str(&format!(
        "{text}Redis ver. {REDIS_VERSION}\n"
    )))
}

/// xorshift64: art needs no better randomness.
struct Rng(u64);

impl Rng {
    fn seeded() -> Rng {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Rng(nanos | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [-1, 1).
    fn signed_unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A pixel canvas printed as Braille characters, 2×4 pixels per character.
struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<bool>,
}

impl Canvas {
    fn new(width: usize, height: usize) -> Canvas {
        Canvas {
            width,
            height,
            pixels: vec![false; width * height],
        }
    }

    fn set(&mut self, x: i64, y: i64) {
        if (0..self.width as i64).contains(&x) && (0..self.height as i64).contains(&y) {
            self.pixels[y as usize * self.width + x as usize] = true;
        }
    }

    /// A straight line between two points, one pixel per step along the longer axis.
    fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64)) {
        let steps = (x1 - x0).abs().max((y1 - y0).abs()).ceil().max(1.0) as usize;
        for i in 0..=steps {
            let t = i as f64 / steps as f64;
            let x = x0 + (x1 - x0) * t;
            let y = y0 + (y1 - y0) * t;
            self.set(x.round() as i64, y.round() as i64);
        }
    }

    fn braille(&self) -> String {
        // Unicode Braille dot bits for (column, row) in a 2×4 cell.
        const DOTS: [[u32; 4]; 2] = [[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]];
        let mut out = String::new();
        for top in (0..self.height).step_by(4) {
            for left in (0..self.width).step_by(2) {
                let mut bits = 0;
                for (dx, column) in DOTS.iter().enumerate() {
                    for (dy, bit) in column.iter().enumerate() {
                        let (x, y) = (left + dx, top + dy);
                        if x < self.width && y < self.height && self.pixels[y * self.width + x] {
                            bits |= bit;
                        }
                    }
                }
                out.push(char::from_u32(0x2800 + bits).unwrap_or(' '));
            }
            out.push('\n');
        }
        out
    }
}

/// Schotter: `per_row` × `per_col` squares; row `r` is rotated and shifted by random amounts
/// that grow with `r`, so order dissolves into chaos toward the bottom.
fn schotter(cols: usize, per_row: usize, per_col: usize, rng: &mut Rng) -> String {
    let width = cols * 2;
    let padding = if width > 4 { 2 } else { 0 };
    let side = (width - padding * 2) as f64 / per_row as f64;
    let height = (side * per_col as f64) as usize + padding * 2;
    let mut canvas = Canvas::new(width, height.max(1));
    for row in 0..per_col {
        let disorder = row as f64 / per_col as f64;
        for col in 0..per_row {
            let angle = rng.signed_unit() * std::f64::consts::FRAC_PI_4 * disorder;
            let shift_x = rng.signed_unit() * side / 2.0 * disorder;
            let shift_y = rng.signed_unit() * side / 2.0 * disorder;
            let cx = padding as f64 + side * (col as f64 + 0.5) + shift_x;
            let cy = padding as f64 + side * (row as f64 + 0.5) + shift_y;
            let half = side / 2.0;
            let (sin, cos) = angle.sin_cos();
            let corner = |dx: f64, dy: f64| (cx + dx * cos - dy * sin, cy + dx * sin + dy * cos);
            let corners = [
                corner(-half, -half),
                corner(half, -half),
                corner(half, half),
                corner(-half, half),
            ];
            for i in 0..4 {
                canvas.line(corners[i], corners[(i + 1) % 4]);
            }
        }
    }
    canvas.braille()
}

/// A night sky with stars over random skyscrapers with lit windows, `rows` lines of `cols`
/// cells, each cell a space coloured black, dark grey, light grey or white.
fn skyline(cols: usize, rows: usize, rng: &mut Rng) -> String {
    const SHADES: [&str; 4] = ["0;30;40", "0;90;100", "0;37;47", "0;97;107"];
    // 0 sky, 1 far building, 2 near building, 3 star or lit window.
    let mut cells = vec![0u8; cols * rows];
    for shade in [1u8, 2] {
        let mut x = rng.below(4);
        while x < cols {
            let wide = 3 + rng.below(8);
            let tall = rows / 4 + rng.below(rows * 3 / 4 + 1);
            for col in x..(x + wide).min(cols) {
                for row in rows.saturating_sub(tall)..rows {
                    let lit = shade == 2 && (col - x) % 2 == 1 && row % 2 == 1 && rng.below(3) == 0;
                    cells[row * cols + col] = if lit { 3 } else { shade };
                }
            }
            x += wide + rng.below(6);
        }
    }
    for cell in cells.iter_mut() {
        if *cell == 0 && rng.below(40) == 0 {
            *cell = 3;
        }
    }
    let mut out = String::new();
    for row in cells.chunks(cols) {
        for &cell in row {
            out.push_str("\x1b[");
            out.push_str(SHADES[cell as usize]);
            out.push_str("m \x1b[0m");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schotter_has_one_braille_line_per_four_pixel_rows() {
        let art = schotter(66, 8, 12, &mut Rng(7));
        let lines: Vec<&str> = art.lines().collect();
        let side = (132.0 - 4.0) / 8.0;
        assert_eq!(lines.len(), ((side * 12.0) as usize + 4).div_ceil(4));
        assert!(lines.iter().all(|l| l.chars().count() == 66));
        assert!(art
            .chars()
            .all(|c| c == '\n' || ('\u{2800}'..='\u{28ff}').contains(&c)));
        // Something is drawn.
        assert!(art.chars().any(|c| c != '\n' && c != '\u{2800}'));
        assert_eq!(schotter(1, 1, 1, &mut Rng(3)).lines().count(), 1);
    }

    #[test]
    fn skyline_has_rows_lines_of_cols_coloured_cells() {
        let art = skyline(80, 20, &mut Rng(11));
        let lines: Vec<&str> = art.lines().collect();
        assert_eq!(lines.len(), 20);
        for line in lines {
            assert_eq!(line.matches("m \x1b[0m").count(), 80);
        }
        assert_eq!(skyline(1, 1, &mut Rng(5)).lines().count(), 1);
    }
}
