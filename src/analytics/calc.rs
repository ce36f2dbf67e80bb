//! A safe calculator for LLM agents: arithmetic expressions and FinQA reasoning programs.
//!
//! Language models are poor at arithmetic, so agents hand the numbers to this module instead.
//! Nothing here calls an interpreter: [`eval_expression`] is a hand-written recursive-descent
//! parser that evaluates as it parses, and [`eval_program`] runs FinQA's small program language.
//! Both refuse input longer than [`MAX_INPUT_CHARS`] characters, expressions refuse nesting deeper
//! than [`MAX_DEPTH`] levels, and neither ever returns NaN or an infinity: every failure is a
//! [`CalcError`] that names the 1-based character column and what was expected there.
//!
//! # Expressions
//!
//! - Numbers: `12`, `3.5`, `.5`, `1e6`, `2.5E-3`, and `1,234,567.8` with thousands separators.
//! - A `%` suffix divides by 100 (`5%` is 0.05, `(10 + 5)%` is 0.15); `%` is never modulo.
//! - Operators `+ - * /` and `^` (also written `**`); `^` is right-associative and binds tighter
//!   than unary minus, so `2^3^2` is 512 and `-2^2` is -4. `×`, `÷` and `−` are accepted too.
//! - Constants `pi` and `e`; functions `abs`, `sqrt`, `ln`, `log10`, `exp` (one argument),
//!   `min`, `max`, `sum`, `avg` / `mean` (one or more) and `round(x[, digits])`.
//!   Names are case-insensitive.
//! - Evaluation errors (division by zero, `sqrt` of a negative number, overflow) are reported
//!   only when the whole input parses, so a syntax error is always reported first.
//!
//! ## The comma rule
//!
//! A comma is a thousands separator when it follows a group of 1 to 3 digits (not starting with
//! `0`) or an earlier separated group, is followed by exactly 3 digits and then a non-digit, and
//! sits outside a function's argument list. Directly inside a call's parentheses a comma always
//! separates arguments: `max(1,234)` is `max(1, 234)` = 234 and `sum(1,234,567)` is 802. To pass
//! 1,234 as an argument write `1234` or wrap it in parentheses: `max((1,234), 5)` is 1234.
//! Elsewhere a comma that is not a separator (`1,23`, `1234,567`) is a syntax error.
//!
//! ## Rounding
//!
//! [`round_to`] (and `round` in expressions) rounds half away from zero on the shortest decimal
//! that reads back as the number, i.e. on the digits a person sees: `round(2.345, 2)` is 2.35
//! although the binary double nearest 2.345 is 2.34499999….
//!
//! # FinQA programs
//!
//! [`eval_program`] runs programs such as `subtract(5829, 5735), divide(#0, 5735)` with the
//! semantics of FinQA's evaluator (`str_to_num`): arguments are plain numbers (a `%` suffix
//! divides by 100, no thousands separators), `#n` for the result of an earlier step (0-based),
//! or `const_<digits>` / `const_m<digits>` (`const_m1` is -1). The operations are `add`,
//! `subtract`, `multiply`, `divide`, `exp` (a^b), `greater` (a yes/no result), and `table_sum`,
//! `table_average`, `table_max`, `table_min`, whose first argument names a table row and whose
//! second is `none`. Rows match case-insensitively after trimming (runs of whitespace count as
//! one space); as in FinQA's row dictionary the last of several equal names wins. Table cells
//! are read leniently: `$`, `,` and spaces are dropped, `(12)` is -12, a trailing `%` is dropped
//! without dividing, text from a later `(` on is ignored (`12 (5%)` is 12), and blank or dash
//! (`-`, `–`, `—`) cells are skipped; any other cell is an error naming it. Results are not
//! rounded: compare with FinQA's `exe_ans` through `round_to(x, 5)`.

use std::fmt;

use schemars::JsonSchema;
use serde::Serialize;

/// The longest expression or program accepted, in characters.
pub const MAX_INPUT_CHARS: usize = 2_000;

/// The deepest nesting of parentheses, function calls and powers an expression may have.
pub const MAX_DEPTH: usize = 64;

/// The most decimal digits `round(x, digits)` accepts in an expression.
const MAX_ROUND_DIGITS: f64 = 15.0;

/// How many row names a "row not found" error lists.
const MAX_LISTED_ROWS: usize = 10;

const KNOWN_FUNCTIONS: &str = "abs, sqrt, ln, log10, exp, min, max, sum, avg (mean), round";

const KNOWN_OPERATIONS: &str =
    "add, subtract, multiply, divide, exp, greater, table_sum, table_average, table_max, table_min";

/// Why an expression or a program could not be evaluated. Columns count characters from 1.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CalcError {
    #[error("the input is empty")]
    Empty,
    #[error("the input is too long: {len} characters (the limit is {max})")]
    TooLong { len: usize, max: usize },
    #[error("nesting deeper than {max} levels at column {column}")]
    TooDeep { column: usize, max: usize },
    #[error("unexpected character `{ch}` at column {column}")]
    UnexpectedChar { ch: char, column: usize },
    #[error("invalid number `{text}` at column {column}: {reason}")]
    InvalidNumber { text: String, column: usize, reason: &'static str },
    #[error("unexpected {found} at column {column}: expected {expected}")]
    Unexpected { found: String, column: usize, expected: String },
    #[error("unknown function `{name}` at column {column} (known functions: {known})", known = KNOWN_FUNCTIONS)]
    UnknownFunction { name: String, column: usize },
    #[error(
        "unknown name `{name}` at column {column} (known constants: pi, e; functions need parentheses, as in `sqrt(2)`)"
    )]
    UnknownName { name: String, column: usize },
    #[error("`{name}` at column {column} takes {expected}, got {got}{hint}")]
    WrongArgCount { name: String, column: usize, expected: &'static str, got: usize, hint: &'static str },
    #[error("division by zero at column {column}")]
    DivisionByZero { column: usize },
    #[error("{what} at column {column}")]
    Domain { what: &'static str, column: usize },
    #[error("result is not finite (overflow) at column {column}")]
    NotFinite { column: usize },
    #[error("program syntax error at column {column}: {reason}")]
    ProgramSyntax { column: usize, reason: String },
    #[error("step #{step} at column {column}: unknown operation `{op}` (known operations: {known})", known = KNOWN_OPERATIONS)]
    UnknownOperation { step: usize, column: usize, op: String },
    #[error("step #{step} at column {column}: {reason}")]
    BadArgument { step: usize, column: usize, reason: String },
    #[error("step #{step} at column {column}: `{reference}` {reason}")]
    BadReference { step: usize, column: usize, reference: String, reason: String },
    #[error("step #{step} at column {column}: `{op}` needs a table, but none was given")]
    NoTable { step: usize, column: usize, op: String },
    #[error("step #{step} at column {column}: no table row named `{row}` (rows: {available})")]
    RowNotFound { step: usize, column: usize, row: String, available: String },
    #[error("step #{step} at column {column}: cell `{cell}` of row `{row}` is not a number")]
    BadCell { step: usize, column: usize, row: String, cell: String },
    #[error("step #{step} at column {column}: row `{row}` has no numeric cells")]
    EmptyRow { step: usize, column: usize, row: String },
}

/// The value of one FinQA program step: a number, or yes/no from `greater`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum ProgramResult {
    Number(f64),
    Bool(bool),
}

impl ProgramResult {
    /// The number, when this is one.
    pub fn as_number(self) -> Option<f64> {
        match self {
            Self::Number(value) => Some(value),
            Self::Bool(_) => None,
        }
    }

    /// The yes/no answer, when this is one.
    pub fn as_bool(self) -> Option<bool> {
        match self {
            Self::Number(_) => None,
            Self::Bool(value) => Some(value),
        }
    }
}

impl fmt::Display for ProgramResult {
    /// Numbers as Rust prints them, yes/no as FinQA writes them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(value) => write!(f, "{value}"),
            Self::Bool(true) => f.write_str("yes"),
            Self::Bool(false) => f.write_str("no"),
        }
    }
}

/// An evaluated FinQA program: every step's value (to show the work) and the last one.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Program {
    pub steps: Vec<ProgramResult>,
    pub result: ProgramResult,
}

// ---------------------------------------------------------------------------------------------
// Expressions: tokens
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    /// A name, lowercased.
    Ident(String),
    Plus,
    Minus,
    Star,
    Slash,
    Caret,
    Percent,
    LParen,
    RParen,
    Comma,
    End,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// 1-based character column of the token's first character.
    column: usize,
    /// The token as written, for error messages.
    text: String,
}

fn tokenize(chars: &[char]) -> Result<Vec<Token>, CalcError> {
    let mut tokens: Vec<Token> = Vec::new();
    // One entry per open `(`: true when it opens a function's argument list, where a comma
    // always separates arguments.
    let mut parens: Vec<bool> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let separators = parens.last() != Some(&true);
            let (value, end) = lex_number(chars, i, separators)?;
            tokens.push(Token { tok: Tok::Num(value), column, text: chars[i..end].iter().collect() });
            i = end;
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            tokens.push(Token { tok: Tok::Ident(text.to_lowercase()), column, text });
            continue;
        }
        let (tok, len) = match c {
            '+' => (Tok::Plus, 1),
            '-' | '\u{2212}' => (Tok::Minus, 1),
            '*' if chars.get(i + 1) == Some(&'*') => (Tok::Caret, 2),
            '*' | '\u{d7}' => (Tok::Star, 1),
            '/' | '\u{f7}' => (Tok::Slash, 1),
            '^' => (Tok::Caret, 1),
            '%' => (Tok::Percent, 1),
            '(' => {
                let is_call = matches!(tokens.last(), Some(Token { tok: Tok::Ident(_), .. }));
                parens.push(is_call);
                (Tok::LParen, 1)
            }
            ')' => {
                parens.pop();
                (Tok::RParen, 1)
            }
            ',' => (Tok::Comma, 1),
            _ => return Err(CalcError::UnexpectedChar { ch: c, column }),
        };
        tokens.push(Token { tok, column, text: chars[i..i + len].iter().collect() });
        i += len;
    }
    tokens.push(Token { tok: Tok::End, column: chars.len() + 1, text: String::new() });
    Ok(tokens)
}

/// Reads the number starting at `start`; returns its value and the index just past it.
/// `separators` says whether a comma may be a thousands separator here (see the module docs).
fn lex_number(chars: &[char], start: usize, separators: bool) -> Result<(f64, usize), CalcError> {
    let digit_at = |k: usize| chars.get(k).is_some_and(char::is_ascii_digit);
    let mut clean = String::new();
    let mut i = start;
    while digit_at(i) {
        clean.push(chars[i]);
        i += 1;
    }
    let first_group = i - start;
    if separators && (1..=3).contains(&first_group) && chars[start] != '0' {
        while chars.get(i) == Some(&',')
            && digit_at(i + 1)
            && digit_at(i + 2)
            && digit_at(i + 3)
            && !digit_at(i + 4)
        {
            clean.extend(&chars[i + 1..i + 4]);
            i += 4;
        }
    }
    if chars.get(i) == Some(&'.') {
        clean.push('.');
        i += 1;
        while digit_at(i) {
            clean.push(chars[i]);
            i += 1;
        }
    }
    let text = |end: usize| chars[start..end].iter().collect::<String>();
    if chars.get(i) == Some(&'.') {
        return Err(CalcError::InvalidNumber {
            text: text(i + 1),
            column: start + 1,
            reason: "a number has at most one decimal point",
        });
    }
    if matches!(chars.get(i), Some('e' | 'E')) {
        let mut k = i + 1;
        let sign = chars.get(k).copied().filter(|c| matches!(c, '+' | '-'));
        if sign.is_some() {
            k += 1;
        }
        // Without digits the `e` is not an exponent; it is left for the next token.
        if digit_at(k) {
            clean.push('e');
            clean.extend(sign);
            while digit_at(k) {
                clean.push(chars[k]);
                k += 1;
            }
            i = k;
        }
    }
    let value: f64 = clean.parse().map_err(|_| CalcError::InvalidNumber {
        text: text(i),
        column: start + 1,
        reason: "not a valid number",
    })?;
    if !value.is_finite() {
        return Err(CalcError::InvalidNumber { text: text(i), column: start + 1, reason: "too large" });
    }
    Ok((value, i))
}

// ---------------------------------------------------------------------------------------------
// Expressions: parser and evaluator
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Function {
    Abs,
    Sqrt,
    Ln,
    Log10,
    Exp,
    Min,
    Max,
    Sum,
    Avg,
    Round,
}

impl Function {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "abs" => Self::Abs,
            "sqrt" => Self::Sqrt,
            "ln" => Self::Ln,
            "log10" => Self::Log10,
            "exp" => Self::Exp,
            "min" => Self::Min,
            "max" => Self::Max,
            "sum" => Self::Sum,
            "avg" | "mean" | "average" => Self::Avg,
            "round" => Self::Round,
            _ => return None,
        })
    }
}

const CALL_COMMA_HINT: &str =
    " (inside a function call a comma always separates arguments: write 1234 or (1,234))";

/// The single argument of a one-argument function.
fn single(args: &[f64], name: &str, column: usize) -> Result<f64, CalcError> {
    match args {
        [x] => Ok(*x),
        _ => Err(CalcError::WrongArgCount {
            name: name.to_string(),
            column,
            expected: "1 argument",
            got: args.len(),
            hint: if args.len() > 1 { CALL_COMMA_HINT } else { "" },
        }),
    }
}

/// Parses with this grammar, evaluating as it goes:
///
/// ```text
/// expr    := term (('+' | '-') term)*
/// term    := unary (('*' | '/') unary)*
/// unary   := ('+' | '-')* power
/// power   := postfix ('^' unary)?
/// postfix := primary '%'?
/// primary := number | constant | function '(' expr (',' expr)* ')' | '(' expr ')'
/// ```
struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    /// The first evaluation error (division by zero, domain, overflow). Parsing goes on after
    /// one so that a syntax error anywhere in the input is reported in preference.
    eval_error: Option<CalcError>,
}

impl Parser {
    fn current(&self) -> &Token {
        &self.tokens[self.pos]
    }

    fn peek(&self) -> &Tok {
        &self.current().tok
    }

    /// Moves past the current token (never past `End`) and returns it.
    fn bump(&mut self) -> Token {
        let token = self.tokens[self.pos].clone();
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        token
    }

    fn unexpected(&self, expected: impl Into<String>) -> CalcError {
        let token = self.current();
        let found = match &token.tok {
            Tok::End => "end of input".to_string(),
            Tok::Num(_) => format!("number `{}`", token.text),
            Tok::Ident(_) => format!("name `{}`", token.text),
            _ => format!("`{}`", token.text),
        };
        CalcError::Unexpected {
            found,
            column: token.column,
            expected: format!("{}{}", expected.into(), self.hint()),
        }
    }

    /// A hint for the common mistakes behind an unexpected current token.
    fn hint(&self) -> &'static str {
        let previous = self.pos.checked_sub(1).map(|p| &self.tokens[p].tok);
        match (previous, self.peek()) {
            (Some(Tok::Percent), Tok::Num(_) | Tok::LParen | Tok::Ident(_)) => {
                " (`%` is a percent suffix, not modulo)"
            }
            (Some(Tok::Num(_)), Tok::Comma) => {
                " (a comma is a thousands separator only between groups of exactly 3 digits, as in 1,234.5)"
            }
            (Some(Tok::Num(_) | Tok::RParen | Tok::Ident(_)), Tok::Num(_) | Tok::LParen | Tok::Ident(_)) => {
                " (write `*` to multiply)"
            }
            _ => "",
        }
    }

    fn enter(&mut self, column: usize) -> Result<(), CalcError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH { Err(CalcError::TooDeep { column, max: MAX_DEPTH }) } else { Ok(()) }
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Records an evaluation error (the first one wins) and returns NaN as a placeholder; the
    /// placeholder never escapes because `eval_expression` returns the recorded error.
    fn defer(&mut self, error: CalcError) -> f64 {
        if self.eval_error.is_none() {
            self.eval_error = Some(error);
        }
        f64::NAN
    }

    /// `value` when finite; otherwise records an overflow (unless an error is already recorded).
    fn checked(&mut self, value: f64, column: usize) -> f64 {
        if value.is_finite() {
            value
        } else if self.eval_error.is_some() {
            f64::NAN
        } else {
            self.defer(CalcError::NotFinite { column })
        }
    }

    fn parse_expr(&mut self) -> Result<f64, CalcError> {
        let mut value = self.parse_term()?;
        loop {
            let subtract = match self.peek() {
                Tok::Plus => false,
                Tok::Minus => true,
                _ => return Ok(value),
            };
            let column = self.bump().column;
            let rhs = self.parse_term()?;
            let raw = if subtract { value - rhs } else { value + rhs };
            value = self.checked(raw, column);
        }
    }

    fn parse_term(&mut self) -> Result<f64, CalcError> {
        let mut value = self.parse_unary()?;
        loop {
            let divide = match self.peek() {
                Tok::Star => false,
                Tok::Slash => true,
                _ => return Ok(value),
            };
            let column = self.bump().column;
            let rhs = self.parse_unary()?;
            value = if !divide {
                self.checked(value * rhs, column)
            } else if rhs == 0.0 {
                self.defer(CalcError::DivisionByZero { column })
            } else {
                self.checked(value / rhs, column)
            };
        }
    }

    fn parse_unary(&mut self) -> Result<f64, CalcError> {
        let mut negative = false;
        loop {
            match self.peek() {
                Tok::Minus => negative = !negative,
                Tok::Plus => {}
                _ => break,
            }
            self.bump();
        }
        let value = self.parse_power()?;
        Ok(if negative { -value } else { value })
    }

    fn parse_power(&mut self) -> Result<f64, CalcError> {
        let base = self.parse_postfix()?;
        if !matches!(self.peek(), Tok::Caret) {
            return Ok(base);
        }
        let column = self.bump().column;
        self.enter(column)?;
        // Right-associative: the exponent is itself a (signed) power.
        let exponent = self.parse_unary()?;
        self.leave();
        Ok(self.power(base, exponent, column))
    }

    fn power(&mut self, base: f64, exponent: f64, column: usize) -> f64 {
        match power_domain(base, exponent) {
            Some(what) => self.defer(CalcError::Domain { what, column }),
            None => self.checked(base.powf(exponent), column),
        }
    }

    fn parse_postfix(&mut self) -> Result<f64, CalcError> {
        let value = self.parse_primary()?;
        if matches!(self.peek(), Tok::Percent) {
            self.bump();
            return Ok(value / 100.0);
        }
        Ok(value)
    }

    fn parse_primary(&mut self) -> Result<f64, CalcError> {
        let token = self.current().clone();
        match &token.tok {
            Tok::Num(value) => {
                self.bump();
                Ok(*value)
            }
            Tok::LParen => {
                self.bump();
                self.enter(token.column)?;
                let value = self.parse_expr()?;
                self.leave();
                if !matches!(self.peek(), Tok::RParen) {
                    return Err(self.unexpected(format!(
                        "an operator or `)` to close the `(` at column {}",
                        token.column
                    )));
                }
                self.bump();
                Ok(value)
            }
            Tok::Ident(name) => {
                self.bump();
                self.parse_name(name, token.column, &token.text)
            }
            _ => Err(self.unexpected("a number, `(`, a function or a constant")),
        }
    }

    /// A constant, or a function call whose name has just been read.
    fn parse_name(&mut self, name: &str, column: usize, text: &str) -> Result<f64, CalcError> {
        let function = Function::from_name(name);
        if !matches!(self.peek(), Tok::LParen) {
            return match name {
                "pi" | "\u{3c0}" => Ok(std::f64::consts::PI),
                "e" => Ok(std::f64::consts::E),
                _ if function.is_some() => Err(self.unexpected(format!("`(` after the function `{text}`"))),
                _ => Err(CalcError::UnknownName { name: text.to_string(), column }),
            };
        }
        let Some(function) = function else {
            return Err(CalcError::UnknownFunction { name: text.to_string(), column });
        };
        let open = self.bump().column;
        self.enter(open)?;
        let mut args = Vec::new();
        if !matches!(self.peek(), Tok::RParen) {
            loop {
                args.push(self.parse_expr()?);
                match self.peek() {
                    Tok::Comma => {
                        self.bump();
                    }
                    Tok::RParen => break,
                    _ => {
                        return Err(self.unexpected(format!(
                            "an operator, `,` or `)` to close `{text}(` at column {column}"
                        )));
                    }
                }
            }
        }
        self.bump();
        self.leave();
        self.apply(function, text, column, &args)
    }

    fn apply(
        &mut self,
        function: Function,
        name: &str,
        column: usize,
        args: &[f64],
    ) -> Result<f64, CalcError> {
        let at_least_one = || CalcError::WrongArgCount {
            name: name.to_string(),
            column,
            expected: "at least 1 argument",
            got: 0,
            hint: "",
        };
        let value = match function {
            Function::Abs => single(args, name, column)?.abs(),
            Function::Exp => single(args, name, column)?.exp(),
            Function::Sqrt => {
                let x = single(args, name, column)?;
                if x < 0.0 {
                    self.defer(CalcError::Domain { what: "sqrt of a negative number", column })
                } else {
                    x.sqrt()
                }
            }
            Function::Ln => {
                let x = single(args, name, column)?;
                if x <= 0.0 {
                    self.defer(CalcError::Domain { what: "ln of a zero or negative number", column })
                } else {
                    x.ln()
                }
            }
            Function::Log10 => {
                let x = single(args, name, column)?;
                if x <= 0.0 {
                    self.defer(CalcError::Domain { what: "log10 of a zero or negative number", column })
                } else {
                    x.log10()
                }
            }
            Function::Min | Function::Max | Function::Sum | Function::Avg if args.is_empty() => {
                return Err(at_least_one());
            }
            Function::Min => args.iter().copied().fold(f64::INFINITY, f64::min),
            Function::Max => args.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            Function::Sum => args.iter().sum(),
            Function::Avg => args.iter().sum::<f64>() / args.len() as f64,
            Function::Round => {
                let (x, digits) = match args {
                    [x] => (*x, 0.0),
                    [x, digits] => (*x, *digits),
                    _ => {
                        return Err(CalcError::WrongArgCount {
                            name: name.to_string(),
                            column,
                            expected: "1 or 2 arguments",
                            got: args.len(),
                            hint: if args.len() > 2 { CALL_COMMA_HINT } else { "" },
                        });
                    }
                };
                if !(0.0..=MAX_ROUND_DIGITS).contains(&digits) || digits.fract() != 0.0 {
                    self.defer(CalcError::Domain {
                        what: "the digits of `round` must be a whole number from 0 to 15",
                        column,
                    })
                } else {
                    round_to(x, digits as u32)
                }
            }
        };
        Ok(self.checked(value, column))
    }
}

/// Why `base ^ exponent` has no real value, if it has none.
fn power_domain(base: f64, exponent: f64) -> Option<&'static str> {
    if base == 0.0 && exponent < 0.0 {
        Some("zero raised to a negative power")
    } else if base < 0.0 && exponent.fract() != 0.0 {
        Some("a negative number raised to a fractional power")
    } else {
        None
    }
}

/// `-0.0` as `0.0`, so that results never print as "-0".
fn tidy(value: f64) -> f64 {
    if value == 0.0 { 0.0 } else { value }
}

fn check_length(input: &str) -> Result<(), CalcError> {
    let len = input.chars().count();
    if len > MAX_INPUT_CHARS {
        return Err(CalcError::TooLong { len, max: MAX_INPUT_CHARS });
    }
    if input.trim().is_empty() {
        return Err(CalcError::Empty);
    }
    Ok(())
}

/// Evaluates an arithmetic expression such as `(5829 - 5735) / 5735 * 100` or `50% * 1,200`.
///
/// See the module documentation for the grammar, the comma rule and the limits. The result is
/// always finite; every failure is a [`CalcError`] naming the column.
pub fn eval_expression(expr: &str) -> Result<f64, CalcError> {
    check_length(expr)?;
    let chars: Vec<char> = expr.chars().collect();
    let tokens = tokenize(&chars)?;
    let mut parser = Parser { tokens, pos: 0, depth: 0, eval_error: None };
    let value = parser.parse_expr()?;
    if !matches!(parser.peek(), Tok::End) {
        return Err(parser.unexpected("an operator or end of input"));
    }
    if let Some(error) = parser.eval_error {
        return Err(error);
    }
    if !value.is_finite() {
        return Err(CalcError::NotFinite { column: 1 });
    }
    Ok(tidy(value))
}

/// Rounds `x` to `digits` decimal places, half away from zero, on the shortest decimal that
/// reads back as `x` (what a person sees): `round_to(2.345, 2)` is 2.35 and `round_to(1.005, 2)`
/// is 1.01, although both binary values lie just below the written ones. Non-finite input is
/// returned unchanged.
pub fn round_to(x: f64, digits: u32) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    // Shortest round-trip digits in scientific form, e.g. "2.345e0" or "1e-7".
    let repr = format!("{:e}", x.abs());
    let Some((mantissa, exponent)) = repr.split_once('e') else {
        return x;
    };
    let Ok(exponent) = exponent.parse::<i64>() else {
        return x;
    };
    let significant: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).map(|b| b - b'0').collect();
    // The digits to keep: those before the decimal point (exponent + 1) plus `digits` after it.
    let Ok(keep) = usize::try_from(exponent + 1 + i64::from(digits)) else {
        // |x| < 0.1 ^ (digits + 1): nothing survives.
        return 0.0;
    };
    if keep >= significant.len() {
        return x;
    }
    let mut kept = significant[..keep].to_vec();
    if significant[keep] >= 5 {
        let mut carry = true;
        for digit in kept.iter_mut().rev() {
            if *digit == 9 {
                *digit = 0;
            } else {
                *digit += 1;
                carry = false;
                break;
            }
        }
        if carry {
            kept.insert(0, 1);
        }
    }
    if kept.is_empty() {
        kept.push(0);
    }
    let integer: String = kept.iter().map(|d| char::from(b'0' + d)).collect();
    let sign = if x < 0.0 { "-" } else { "" };
    tidy(format!("{sign}{integer}e-{digits}").parse().unwrap_or(x))
}

// ---------------------------------------------------------------------------------------------
// FinQA programs
// ---------------------------------------------------------------------------------------------

/// One step as written: `op(args)`, with the args' character range in the program.
struct RawStep {
    op: String,
    /// 1-based column of the operation name.
    column: usize,
    args_start: usize,
    args_end: usize,
}

/// A trimmed argument and the 1-based column of its first character.
struct Piece {
    text: String,
    column: usize,
}

fn skip_whitespace(chars: &[char], mut i: usize) -> usize {
    while chars.get(i).is_some_and(|c| c.is_whitespace()) {
        i += 1;
    }
    i
}

fn parse_steps(chars: &[char]) -> Result<Vec<RawStep>, CalcError> {
    let mut steps = Vec::new();
    let mut i = skip_whitespace(chars, 0);
    while let Some(&first) = chars.get(i) {
        let start = i;
        while chars.get(i).is_some_and(|c| c.is_alphanumeric() || *c == '_') {
            i += 1;
        }
        if i == start {
            return Err(CalcError::ProgramSyntax {
                column: i + 1,
                reason: format!("expected an operation such as `add(`, found `{first}`"),
            });
        }
        let op: String = chars[start..i].iter().collect();
        i = skip_whitespace(chars, i);
        if chars.get(i) != Some(&'(') {
            return Err(CalcError::ProgramSyntax {
                column: i + 1,
                reason: format!("expected `(` after `{op}`"),
            });
        }
        let open = i;
        let mut depth = 0usize;
        let mut close = None;
        for (k, &c) in chars.iter().enumerate().skip(open) {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(k);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(close) = close else {
            return Err(CalcError::ProgramSyntax {
                column: open + 1,
                reason: format!("`{op}(` is never closed with `)`"),
            });
        };
        steps.push(RawStep { op, column: start + 1, args_start: open + 1, args_end: close });
        i = skip_whitespace(chars, close + 1);
        match chars.get(i) {
            None => break,
            Some(',') => i = skip_whitespace(chars, i + 1),
            Some(c) => {
                return Err(CalcError::ProgramSyntax {
                    column: i + 1,
                    reason: format!("expected `,` between steps, found `{c}`"),
                });
            }
        }
    }
    if steps.is_empty() {
        return Err(CalcError::Empty);
    }
    Ok(steps)
}

fn trimmed(chars: &[char], start: usize, end: usize) -> Piece {
    let slice = &chars[start..end];
    let lead = slice.iter().take_while(|c| c.is_whitespace()).count();
    if lead == slice.len() {
        return Piece { text: String::new(), column: start + 1 };
    }
    let trail = slice.iter().rev().take_while(|c| c.is_whitespace()).count();
    Piece { text: slice[lead..slice.len() - trail].iter().collect(), column: start + lead + 1 }
}

/// Splits `chars[start..end]` at commas outside parentheses; no pieces for blank input.
fn split_top_level(chars: &[char], start: usize, end: usize) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut depth = 0usize;
    let mut piece_start = start;
    for (k, &c) in chars.iter().enumerate().take(end).skip(start) {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                pieces.push(trimmed(chars, piece_start, k));
                piece_start = k + 1;
            }
            _ => {}
        }
    }
    let last = trimmed(chars, piece_start, end);
    if !(pieces.is_empty() && last.text.is_empty()) {
        pieces.push(last);
    }
    pieces
}

/// The index of the last comma of `chars[start..end]` outside parentheses.
fn last_top_level_comma(chars: &[char], start: usize, end: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut last = None;
    for (k, &c) in chars.iter().enumerate().take(end).skip(start) {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => last = Some(k),
            _ => {}
        }
    }
    last
}

/// A plain decimal number: optional sign, digits with at most one `.`, optional exponent.
/// Unlike `str::parse` it refuses `inf`, `NaN` and the like; the value is always finite.
fn parse_plain_number(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let mut i = usize::from(matches!(bytes.first(), Some(b'+' | b'-')));
    let mut mantissa_digits = 0;
    let mut seen_dot = false;
    while let Some(&b) = bytes.get(i) {
        if b.is_ascii_digit() {
            mantissa_digits += 1;
        } else if b == b'.' && !seen_dot {
            seen_dot = true;
        } else {
            break;
        }
        i += 1;
    }
    if mantissa_digits == 0 {
        return None;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let digits_start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == digits_start {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// An argument of an arithmetic step, with FinQA's `str_to_num` rules plus `#n` references.
fn program_number(step: usize, piece: &Piece, done: &[ProgramResult]) -> Result<f64, CalcError> {
    let text = piece.text.as_str();
    let bad = |reason: String| CalcError::BadArgument { step, column: piece.column, reason };
    if text.is_empty() {
        return Err(bad("an argument is empty".to_string()));
    }
    if let Some(index) = text.strip_prefix('#') {
        let reference = |reason: String| CalcError::BadReference {
            step,
            column: piece.column,
            reference: text.to_string(),
            reason,
        };
        let Ok(target) = index.trim().parse::<usize>() else {
            return Err(bad(format!("`{text}` is not a step reference like `#0`")));
        };
        // `done` holds exactly the steps before this one.
        return match done.get(target) {
            Some(ProgramResult::Number(value)) => Ok(*value),
            Some(ProgramResult::Bool(_)) => {
                Err(reference("is a yes/no result (from `greater`), not a number".to_string()))
            }
            None if step == 0 => {
                Err(reference("refers to a step, but the first step has none before it".to_string()))
            }
            None => Err(reference(format!(
                "is not an earlier step: step #{step} can only use #0 to #{}",
                step - 1
            ))),
        };
    }
    let lower = text.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("const_") {
        let (negative, digits) = match rest.strip_prefix('m') {
            Some(digits) => (true, digits),
            None => (false, rest),
        };
        let value = Some(digits)
            .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(parse_plain_number)
            .ok_or_else(|| bad(format!("`{text}` is not a constant like `const_100` or `const_m1`")))?;
        return Ok(if negative { -value } else { value });
    }
    let (body, percent) = match text.strip_suffix('%') {
        Some(body) => (body.trim_end(), true),
        None => (text, false),
    };
    let Some(value) = parse_plain_number(body) else {
        let nested = if text.contains('(') {
            "; nested operations are not supported: write one step per operation and refer to it as `#n`"
        } else {
            ""
        };
        return Err(bad(format!(
            "`{text}` is not a number (like 5735 or 9.5%), a step reference `#n` or a constant `const_100`{nested}"
        )));
    };
    Ok(if percent { value / 100.0 } else { value })
}

/// A table cell's number; `None` for a cell that is not a number.
enum Cell {
    Number(f64),
    Blank,
}

fn is_dash(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| matches!(c, '-' | '\u{2013}' | '\u{2014}'))
}

fn parse_cell(cell: &str) -> Option<Cell> {
    let compact: String = cell.chars().filter(|c| !c.is_whitespace() && *c != '$' && *c != ',').collect();
    let mut text = compact.as_str();
    text = text.strip_suffix('%').unwrap_or(text);
    let mut negative = false;
    if let Some(inner) = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        negative = true;
        text = inner;
    } else if let Some(open) = text.find('(').filter(|&open| open > 0) {
        // FinQA keeps what comes before a parenthesis: "12 ( 5% )" is 12.
        text = &text[..open];
    }
    text = text.strip_suffix('%').unwrap_or(text);
    if text.is_empty() || is_dash(text) {
        return Some(Cell::Blank);
    }
    let value = parse_plain_number(text)?;
    Some(Cell::Number(if negative { -value } else { value }))
}

fn normalize_row_name(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

fn table_step(
    index: usize,
    step: &RawStep,
    op: &str,
    chars: &[char],
    table: Option<&[Vec<String>]>,
) -> Result<f64, CalcError> {
    let column = step.column;
    let Some(table) = table else {
        return Err(CalcError::NoTable { step: index, column, op: step.op.clone() });
    };
    let (start, end) = (step.args_start, step.args_end);
    // The second argument is `none`; the row name may itself contain commas.
    let mut row = trimmed(chars, start, end);
    if let Some(comma) = last_top_level_comma(chars, start, end) {
        let tail = trimmed(chars, comma + 1, end);
        let tail_lower = tail.text.to_ascii_lowercase();
        if tail_lower == "none" {
            row = trimmed(chars, start, comma);
        } else if tail.text.starts_with('#')
            || tail_lower.starts_with("const_")
            || parse_plain_number(tail.text.trim_end_matches('%')).is_some()
        {
            return Err(CalcError::BadArgument {
                step: index,
                column: tail.column,
                reason: format!("the second argument of `{}` must be `none`, got `{}`", step.op, tail.text),
            });
        }
    }
    if row.text.is_empty() {
        return Err(CalcError::BadArgument {
            step: index,
            column: row.column,
            reason: format!("`{}` needs a row name as its first argument", step.op),
        });
    }
    let wanted = normalize_row_name(&row.text);
    // Like FinQA's row dictionary, the last row of a repeated name wins.
    let Some(cells) =
        table.iter().rev().find(|r| r.first().is_some_and(|name| normalize_row_name(name) == wanted))
    else {
        let names: Vec<&str> = table
            .iter()
            .filter_map(|r| r.first())
            .map(|name| name.trim())
            .filter(|name| !name.is_empty())
            .collect();
        let mut available =
            names.iter().take(MAX_LISTED_ROWS).map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
        if names.len() > MAX_LISTED_ROWS {
            available.push_str(&format!(", and {} more", names.len() - MAX_LISTED_ROWS));
        }
        if names.is_empty() {
            available = "the table has no named rows".to_string();
        }
        return Err(CalcError::RowNotFound { step: index, column: row.column, row: row.text, available });
    };
    let mut values = Vec::new();
    for cell in cells.iter().skip(1) {
        match parse_cell(cell) {
            Some(Cell::Number(value)) => values.push(value),
            Some(Cell::Blank) => {}
            None => {
                return Err(CalcError::BadCell {
                    step: index,
                    column: row.column,
                    row: row.text,
                    cell: cell.clone(),
                });
            }
        }
    }
    if values.is_empty() {
        return Err(CalcError::EmptyRow { step: index, column: row.column, row: row.text });
    }
    Ok(match op {
        "table_sum" => values.iter().sum(),
        "table_average" => values.iter().sum::<f64>() / values.len() as f64,
        "table_max" => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        _ => values.iter().copied().fold(f64::INFINITY, f64::min),
    })
}

fn run_step(
    index: usize,
    step: &RawStep,
    chars: &[char],
    done: &[ProgramResult],
    table: Option<&[Vec<String>]>,
) -> Result<ProgramResult, CalcError> {
    let column = step.column;
    let op = step.op.to_ascii_lowercase();
    let value = match op.as_str() {
        "add" | "subtract" | "multiply" | "divide" | "exp" | "greater" => {
            let pieces = split_top_level(chars, step.args_start, step.args_end);
            let [a, b] = pieces.as_slice() else {
                let hint = if pieces.len() > 2 {
                    " (numbers in programs must not contain thousands separators)"
                } else {
                    ""
                };
                return Err(CalcError::BadArgument {
                    step: index,
                    column,
                    reason: format!("`{}` takes 2 arguments, got {}{hint}", step.op, pieces.len()),
                });
            };
            let x = program_number(index, a, done)?;
            let y = program_number(index, b, done)?;
            match op.as_str() {
                "add" => x + y,
                "subtract" => x - y,
                "multiply" => x * y,
                "divide" if y == 0.0 => return Err(CalcError::DivisionByZero { column }),
                "divide" => x / y,
                "exp" => {
                    if let Some(what) = power_domain(x, y) {
                        return Err(CalcError::Domain { what, column });
                    }
                    x.powf(y)
                }
                _ => return Ok(ProgramResult::Bool(x > y)),
            }
        }
        "table_sum" | "table_average" | "table_max" | "table_min" => {
            table_step(index, step, &op, chars, table)?
        }
        _ => return Err(CalcError::UnknownOperation { step: index, column, op: step.op.clone() }),
    };
    if !value.is_finite() {
        return Err(CalcError::NotFinite { column });
    }
    Ok(ProgramResult::Number(tidy(value)))
}

/// Runs a FinQA program such as `subtract(5829, 5735), divide(#0, 5735)` against an optional
/// table (rows of cells, the first cell naming the row) and returns every step's value.
///
/// See the module documentation for the arguments, operations and table-cell rules.
pub fn eval_program(program: &str, table: Option<&[Vec<String>]>) -> Result<Program, CalcError> {
    check_length(program)?;
    let chars: Vec<char> = program.chars().collect();
    let raw = parse_steps(&chars)?;
    let mut steps: Vec<ProgramResult> = Vec::with_capacity(raw.len());
    for (index, step) in raw.iter().enumerate() {
        let value = run_step(index, step, &chars, &steps, table)?;
        steps.push(value);
    }
    let result = *steps.last().ok_or(CalcError::Empty)?;
    Ok(Program { steps, result })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calc(expr: &str) -> f64 {
        match eval_expression(expr) {
            Ok(value) => value,
            Err(error) => panic!("`{expr}` failed: {error}"),
        }
    }

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() <= 1e-9 * expected.abs().max(1.0)
    }

    fn assert_calc(expr: &str, expected: f64) {
        let actual = calc(expr);
        assert!(close(actual, expected), "`{expr}` gave {actual}, expected {expected}");
    }

    fn err(expr: &str) -> CalcError {
        match eval_expression(expr) {
            Ok(value) => panic!("`{expr}` should fail but gave {value}"),
            Err(error) => error,
        }
    }

    fn run(program: &str, table: Option<&[Vec<String>]>) -> Program {
        match eval_program(program, table) {
            Ok(program) => program,
            Err(error) => panic!("`{program}` failed: {error}"),
        }
    }

    fn run_err(program: &str, table: Option<&[Vec<String>]>) -> CalcError {
        match eval_program(program, table) {
            Ok(result) => panic!("`{program}` should fail but gave {result:?}"),
            Err(error) => error,
        }
    }

    fn number(result: ProgramResult) -> f64 {
        match result {
            ProgramResult::Number(value) => value,
            ProgramResult::Bool(value) => panic!("expected a number, got {value}"),
        }
    }

    fn table() -> Vec<Vec<String>> {
        let rows: [&[&str]; 5] = [
            &["", "2019", "2018", "2017"],
            &["Net revenue", "$1,234", "(56)", "$ 22"],
            &["Operating margin", "12%", "-", "8.5 %"],
            &["Other, net", "n/a", "3", ""],
            &["Shares ( millions )", "10 ( 5% )", "\u{2014}", "(2)"],
        ];
        rows.iter().map(|row| row.iter().map(|cell| (*cell).to_string()).collect()).collect()
    }

    #[test]
    fn precedence_and_associativity() {
        assert_calc("2+3*4", 14.0);
        assert_calc("2^3^2", 512.0);
        assert_calc("-2^2", -4.0);
        assert_calc("(1+2)*3", 9.0);
        assert_calc("2-3-4", -5.0);
        assert_calc("8/4/2", 1.0);
        assert_calc("2^-1", 0.5);
        assert_calc("--2", 2.0);
        assert_calc("+-+3", -3.0);
        assert_calc("2**3", 8.0);
        assert_calc("6 \u{d7} 7 \u{f7} 2 \u{2212} 1", 20.0);
        assert_calc("  1 +\t2  ", 3.0);
    }

    #[test]
    fn numbers_and_constants() {
        assert_calc(".5", 0.5);
        assert_calc("1e6", 1_000_000.0);
        assert_calc("2.5E-3", 0.0025);
        assert_calc("PI", std::f64::consts::PI);
        assert_calc("2 * e", 2.0 * std::f64::consts::E);
        assert!(matches!(err("1.2.3"), CalcError::InvalidNumber { column: 1, .. }));
        assert!(matches!(err("1e999"), CalcError::InvalidNumber { reason: "too large", .. }));
        assert!(matches!(err("2pi"), CalcError::Unexpected { column: 2, .. }));
        assert!(matches!(err("x + 1"), CalcError::UnknownName { column: 1, .. }));
        assert!(matches!(err("1 $ 2"), CalcError::UnexpectedChar { ch: '$', column: 3 }));
    }

    #[test]
    fn percent_suffix() {
        assert_calc("50% * 200", 100.0);
        assert_calc("(10 + 5)%", 0.15);
        assert_calc("-5%", -0.05);
        let error = err("10 % 3");
        assert!(matches!(error, CalcError::Unexpected { column: 6, .. }), "{error:?}");
        assert!(error.to_string().contains("not modulo"), "{error}");
    }

    #[test]
    fn thousands_separators() {
        assert_calc("1,234.5 + 1", 1235.5);
        assert_calc("1,234,567.8", 1_234_567.8);
        assert_calc("(1,000 + 1) * 2", 2002.0);
        // Directly inside a call a comma separates arguments.
        assert_calc("max(1,234)", 234.0);
        assert_calc("sum(1,234,567)", 802.0);
        // Parentheses inside a call bring separators back.
        assert_calc("max((1,234), 5)", 1234.0);
        let error = err("1,23");
        assert!(matches!(error, CalcError::Unexpected { column: 2, .. }), "{error:?}");
        assert!(error.to_string().contains("thousands separator"), "{error}");
        assert!(matches!(err("1234,567"), CalcError::Unexpected { column: 5, .. }));
        assert!(matches!(err("0,500"), CalcError::Unexpected { column: 2, .. }));
        assert!(matches!(err("1,2345"), CalcError::Unexpected { column: 2, .. }));
        assert!(matches!(err("1, 234"), CalcError::Unexpected { column: 2, .. }));
    }

    #[test]
    fn functions() {
        assert_calc("min(3, 1, 2)", 1.0);
        assert_calc("max(3, 1, 2)", 3.0);
        assert_calc("avg(1, 2, 3, 4)", 2.5);
        assert_calc("mean(2, 4)", 3.0);
        assert_calc("sum(1, 2, 3)", 6.0);
        assert_calc("round(2.345, 2)", 2.35);
        assert_calc("round(-2.345, 2)", -2.35);
        assert_calc("round(2.5)", 3.0);
        assert_calc("abs(-3)", 3.0);
        assert_calc("sqrt(16)", 4.0);
        assert_calc("ln(e)", 1.0);
        assert_calc("log10(1000)", 3.0);
        assert_calc("exp(0)", 1.0);
        assert_calc("Max(1, sqrt(9)) + 1", 4.0);
        assert!(matches!(err("sqrt(1, 2)"), CalcError::WrongArgCount { got: 2, .. }));
        assert!(matches!(err("max()"), CalcError::WrongArgCount { got: 0, .. }));
        assert!(matches!(err("round(1, 2.5)"), CalcError::Domain { .. }));
        assert!(matches!(err("sqrt"), CalcError::Unexpected { column: 5, .. }));
    }

    #[test]
    fn errors_name_the_column() {
        let error = err("2 +");
        assert_eq!(
            error.to_string(),
            "unexpected end of input at column 4: expected a number, `(`, a function or a constant"
        );
        let error = err("(1");
        assert!(matches!(error, CalcError::Unexpected { column: 3, .. }), "{error:?}");
        assert!(error.to_string().contains("`)` to close the `(` at column 1"), "{error}");
        assert!(err("1 + 2)").to_string().starts_with("unexpected `)` at column 6"));
        assert_eq!(err("1/0"), CalcError::DivisionByZero { column: 2 });
        assert_eq!(err("1/0").to_string(), "division by zero at column 2");
        let error = err("foo(1)");
        assert_eq!(error, CalcError::UnknownFunction { name: "foo".to_string(), column: 1 });
        assert!(error.to_string().starts_with("unknown function `foo` at column 1"));
        assert_eq!(err("sqrt(-1)").to_string(), "sqrt of a negative number at column 1");
        assert!(matches!(err("ln(0)"), CalcError::Domain { .. }));
        assert!(matches!(err("0^-1"), CalcError::Domain { column: 2, .. }));
        assert!(matches!(err("(-8)^(1/3)"), CalcError::Domain { .. }));
        assert_eq!(err("1e308 * 10"), CalcError::NotFinite { column: 7 });
        assert!(matches!(err("exp(1000)"), CalcError::NotFinite { column: 1 }));
        assert_eq!(err(""), CalcError::Empty);
        assert_eq!(err("   "), CalcError::Empty);
        // A syntax error wins over an evaluation error earlier in the input.
        assert!(matches!(err("1/0 + ("), CalcError::Unexpected { .. }));
        // The first evaluation error wins.
        assert_eq!(err("sqrt(-1) + 1/0"), CalcError::Domain { what: "sqrt of a negative number", column: 1 });
    }

    #[test]
    fn limits() {
        let long = "1+".repeat(1_000) + "1";
        assert_eq!(err(&long), CalcError::TooLong { len: 2_001, max: MAX_INPUT_CHARS });
        let ok = format!("{}1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_calc(&ok, 1.0);
        let deep = format!("{}1{}", "(".repeat(MAX_DEPTH + 1), ")".repeat(MAX_DEPTH + 1));
        assert_eq!(err(&deep), CalcError::TooDeep { column: MAX_DEPTH + 1, max: MAX_DEPTH });
        let calls = format!("{}1{}", "abs(".repeat(MAX_DEPTH + 1), ")".repeat(MAX_DEPTH + 1));
        assert!(matches!(err(&calls), CalcError::TooDeep { .. }));
        let powers = format!("1{}", "^1".repeat(MAX_DEPTH + 1));
        assert!(matches!(err(&powers), CalcError::TooDeep { .. }));
        // Long flat inputs are fine: signs and sums are read iteratively.
        assert_calc(&format!("{}1", "-".repeat(1_998)), 1.0);
        assert_calc(&format!("{}1", "1+".repeat(999)), 1000.0);
    }

    #[test]
    fn never_returns_non_finite() {
        for expr in
            ["1e308*10-1e308*10", "0/0", "sqrt(-1)^0", "max(sqrt(-1), 1)", "exp(710)", "-(1e308*1e308)"]
        {
            assert!(eval_expression(expr).is_err(), "`{expr}` should fail");
        }
        assert!(calc("-0").is_sign_positive());
    }

    #[test]
    fn rounding() {
        assert!(close(round_to(2.345, 2), 2.35));
        assert!(close(round_to(1.005, 2), 1.01));
        assert!(close(round_to(-2.345, 2), -2.35));
        assert!(close(round_to(9.995, 2), 10.0));
        assert!(close(round_to(1234.5, 0), 1235.0));
        assert!(close(round_to(123.456, 1), 123.5));
        assert!(close(round_to(0.005, 2), 0.01));
        assert_eq!(round_to(0.004, 2), 0.0);
        assert_eq!(round_to(1e-7, 3), 0.0);
        assert_eq!(round_to(0.1, 10), 0.1);
        assert_eq!(round_to(1.5e20, 2), 1.5e20);
        assert_eq!(round_to(2.0, u32::MAX), 2.0);
        assert!(close(round_to(0.0163934426, 5), 0.01639));
    }

    #[test]
    fn finqa_arithmetic() {
        let program = run("subtract(5829, 5735), divide(#0, 5735)", None);
        assert_eq!(program.steps.len(), 2);
        assert_eq!(program.steps[0], ProgramResult::Number(94.0));
        assert!(close(number(program.result), 94.0 / 5735.0));
        assert!(close(round_to(number(program.result), 5), 0.01639));
        assert!(close(number(run("divide(9.5%, const_100)", None).result), 0.00095));
        assert!(close(number(run("exp(1.05, const_2)", None).result), 1.1025));
        assert!(close(number(run("multiply(const_m1, const_1000)", None).result), -1000.0));
        assert!(close(number(run("add(-2.5, 1e3)", None).result), 997.5));
        let spaced = run("  subtract( 5829 ,5735 ) ,DIVIDE( #0 , 5735 )  ", None);
        assert!(close(number(spaced.result), 94.0 / 5735.0));
    }

    #[test]
    fn finqa_greater_is_a_bool() {
        let program = run("subtract(5829, 5735), greater(#0, const_1)", None);
        assert_eq!(program.result, ProgramResult::Bool(true));
        assert_eq!(run("greater(1, 2)", None).result, ProgramResult::Bool(false));
        assert_eq!(program.result.to_string(), "yes");
        let error = run_err("greater(2, 1), add(#0, 1)", None);
        assert!(matches!(error, CalcError::BadReference { step: 1, .. }), "{error:?}");
        let json = serde_json::to_value(program).map_err(|e| e.to_string());
        assert_eq!(json, Ok(serde_json::json!({ "steps": [94.0, true], "result": true })));
        let schema = serde_json::to_string(&schemars::schema_for!(Program)).unwrap_or_default();
        assert!(schema.contains("steps"), "{schema}");
    }

    #[test]
    fn finqa_program_errors() {
        let error = run_err("add(1, 2), add(#3, 1)", None);
        assert_eq!(
            error,
            CalcError::BadReference {
                step: 1,
                column: 16,
                reference: "#3".to_string(),
                reason: "is not an earlier step: step #1 can only use #0 to #0".to_string(),
            }
        );
        assert!(matches!(run_err("add(#0, 1)", None), CalcError::BadReference { step: 0, .. }));
        let error = run_err("add(1, 2), power(#0, 2)", None);
        assert_eq!(error, CalcError::UnknownOperation { step: 1, column: 12, op: "power".to_string() });
        assert!(matches!(run_err("divide(1, 0)", None), CalcError::DivisionByZero { column: 1 }));
        assert!(matches!(run_err("exp(10, 400)", None), CalcError::NotFinite { .. }));
        assert!(matches!(run_err("add(1,234, 5)", None), CalcError::BadArgument { .. }));
        assert!(matches!(run_err("add(1)", None), CalcError::BadArgument { .. }));
        assert!(matches!(run_err("add($5, 1)", None), CalcError::BadArgument { column: 5, .. }));
        assert!(matches!(run_err("add(const_x, 1)", None), CalcError::BadArgument { .. }));
        assert!(matches!(run_err("add(inf, 1)", None), CalcError::BadArgument { .. }));
        let nested = run_err("divide(subtract(1, 2), 3)", None);
        assert!(nested.to_string().contains("nested operations"), "{nested}");
        assert!(matches!(run_err("add(1, 2", None), CalcError::ProgramSyntax { column: 4, .. }));
        assert!(matches!(run_err("add(1, 2) add(3, 4)", None), CalcError::ProgramSyntax { column: 11, .. }));
        assert_eq!(run_err(" ", None), CalcError::Empty);
    }

    #[test]
    fn finqa_table_operations() {
        let table = table();
        let t = Some(table.as_slice());
        assert!(close(number(run("table_sum(net revenue, none)", t).result), 1200.0));
        assert!(close(number(run("table_average( NET  REVENUE , none)", t).result), 400.0));
        assert!(close(number(run("table_max(Net revenue, none)", t).result), 1234.0));
        assert!(close(number(run("table_min(Net revenue, none)", t).result), -56.0));
        // `%` cells keep their number; dash cells are skipped.
        assert!(close(number(run("table_sum(operating margin, none)", t).result), 20.5));
        // Text after a later `(` is ignored; an em dash is skipped; `(2)` is -2.
        assert!(close(number(run("table_sum(shares ( millions ), none)", t).result), 8.0));
        let program = run("table_sum(net revenue, none), divide(#0, const_100)", t);
        assert!(close(number(program.result), 12.0));
    }

    #[test]
    fn finqa_table_errors() {
        let table = table();
        let t = Some(table.as_slice());
        let error = run_err("table_sum(revenue, none)", t);
        assert!(matches!(error, CalcError::RowNotFound { step: 0, column: 11, .. }), "{error:?}");
        assert!(error.to_string().contains("`Net revenue`, `Operating margin`"), "{error}");
        let many: Vec<Vec<String>> = (0..15).map(|i| vec![format!("row {i}"), "1".to_string()]).collect();
        let error = run_err("table_sum(missing, none)", Some(many.as_slice()));
        assert!(error.to_string().contains("`row 9`, and 5 more"), "{error}");
        assert!(!error.to_string().contains("`row 10`"), "{error}");
        // The row name may contain a comma; its `n/a` cell is reported.
        let error = run_err("table_sum(other, net, none)", t);
        assert_eq!(
            error,
            CalcError::BadCell {
                step: 0,
                column: 11,
                row: "other, net".to_string(),
                cell: "n/a".to_string()
            }
        );
        assert!(matches!(run_err("table_sum(net revenue, none)", None), CalcError::NoTable { .. }));
        assert!(matches!(run_err("table_sum(net revenue, #0)", t), CalcError::BadArgument { .. }));
        let blank = vec![vec!["empty".to_string(), "-".to_string(), String::new()]];
        assert!(matches!(
            run_err("table_max(empty, none)", Some(blank.as_slice())),
            CalcError::EmptyRow { .. }
        ));
    }
}
