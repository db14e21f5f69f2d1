//! Canonical formatting of configuration files, in Terraform's style (`fleetform fmt`).
//!
//! The file is parsed with hcl-edit, which keeps every comment and every run of whitespace
//! as the "decor" around each node. Formatting rewrites that decor and nothing else:
//!
//! - two spaces of indentation per block level, and per bracket opened on an earlier line
//!   inside an expression (the line a bracket opens on sets the level of its contents);
//! - one space around `=` and between a block's type, labels and `{`; the `=` of
//!   consecutive one-line attributes (and object items) aligned, a blank line, a comment
//!   line or anything spanning several lines ending the group, as `terraform fmt` does;
//!   their trailing comments aligned the same way;
//! - Terraform's spacing inside one-line expressions: `[a, b]`, `f(a, b)`, `{ a = 1 }`,
//!   `a + b`, `c ? a : b`, `x.y[0]`, `!x`, `[for v in l : v]`, `{ for k, v in m : k => v }`;
//! - no trailing whitespace, at most one blank line in a row, none at the start of the
//!   file, and exactly one newline at its end.
//!
//! What is left alone, deliberately: the text of every string, template and heredoc
//! (interpolations included), which tokens share a line, comment text, blank lines next to
//! braces (one at most), the spacing of `key: value` object items and of a single-line
//! trailing comma, and any gap that holds an inline `/* */` comment. A trailing comment
//! outside an alignment group keeps the spacing the user gave it.
//!
//! hcl-edit prints string literals from their decoded value, which would turn `"\u00e9"`
//! into `"é"`; such literals are first replaced by a node that prints their source text
//! unchanged ([`Verbatim`]). As a last guard, a result whose non-whitespace characters
//! differ from the input's is discarded and the input returned unchanged: formatting only
//! ever moves whitespace.

use std::ops::Range;

use hcl::edit::expr::{
    Array, Expression, ForExpr, FuncArgs, Object, ObjectKey, ObjectValueAssignment,
    ObjectValueTerminator, TraversalOperator,
};
use hcl::edit::parser::{self, Error};
use hcl::edit::structure::{Attribute, Block, BlockLabel, Body, Structure};
use hcl::edit::visit_mut::{self, VisitMut};
use hcl::edit::{Decor, Decorate, Decorated, Ident, RawString, Span};

/// Formats one configuration file in canonical style, keeping every comment.
///
/// Formatting is idempotent: formatting the result again changes nothing.
///
/// # Errors
///
/// The parser's error when `text` is not valid HCL.
pub fn format_source(text: &str) -> Result<String, Error> {
    // hcl-edit's tree cannot hold a number literal beyond a 64-bit float: such literals are
    // formatted masked and put back as written.
    let error = match format_parsed(text) {
        Ok(formatted) => return Ok(formatted),
        Err(e) => e,
    };
    match crate::lang::syntax::mask_huge_literals(text) {
        Ok(Some(masked)) => {
            let formatted = format_parsed(&masked.text)?;
            Ok(crate::lang::syntax::unmask(text, &masked, &formatted))
        }
        _ => Err(error),
    }
}

fn format_parsed(text: &str) -> Result<String, Error> {
    let mut body = parser::parse_body(text)?;
    Verbatim { source: text }.visit_body_mut(&mut body);
    Formatter { line: 0 }.root(&mut body);
    let out = body.to_string();
    if same_tokens(text, &out) {
        Ok(out)
    } else {
        tracing::debug!("formatting would change more than whitespace; file left as it is");
        Ok(text.to_owned())
    }
}

/// Whether two texts differ only in whitespace.
fn same_tokens(a: &str, b: &str) -> bool {
    a.chars()
        .filter(|c| !c.is_whitespace())
        .eq(b.chars().filter(|c| !c.is_whitespace()))
}

// ---------------------------------------------------------------------------------------
// Literals printed from source

/// Makes hcl-edit print the source as written before any formatting: replaces every
/// string literal, template and heredoc that it would not print back exactly (escapes such
/// as `\u00e9` are printed decoded) by a node printing its source, and fills in the operator
/// decor its parser leaves unresolved.
struct Verbatim<'a> {
    source: &'a str,
}

impl Verbatim<'_> {
    /// The source text of a literal, when printing it would change it.
    fn changed(&self, expr: &Expression) -> Option<String> {
        let raw = self.source.get(expr.span()?)?;
        let mut bare = expr.clone();
        bare.decor_mut().clear();
        (bare.to_string() != raw).then(|| raw.to_owned())
    }

    /// The source text between two nodes.
    fn between(&self, before: Option<Range<usize>>, after: Option<Range<usize>>) -> Option<String> {
        let (before, after) = (before?, after?);
        self.source.get(before.end..after.start).map(str::to_owned)
    }

    fn object_keys(&mut self, object: &mut Object) {
        let changed = object.iter().any(|(key, _)| match key {
            ObjectKey::Expression(expr) => self.changed(expr).is_some(),
            ObjectKey::Ident(_) => false,
        });
        if !changed {
            return;
        }
        // Keys are immutable in place; rebuild the object in the same order.
        let mut rebuilt = Object::with_capacity(object.len());
        rebuilt.set_trailing(object.trailing().clone());
        *rebuilt.decor_mut() = object.decor().clone();
        for (key, value) in std::mem::take(object) {
            let key = match key {
                ObjectKey::Expression(mut expr) => {
                    self.visit_expr_mut(&mut expr);
                    ObjectKey::Expression(expr)
                }
                key => key,
            };
            rebuilt.insert(key, value);
        }
        *object = rebuilt;
    }
}

/// Whether decor still points into the source: hcl-edit leaves the decor of binary and
/// traversal operators so, and prints a default in its place (`a +\n b` as `a + b`).
fn unresolved(decor: Option<&RawString>) -> bool {
    decor.is_some_and(|r| r.is_empty() && *r != RawString::default())
}

/// A node that prints `text` as it is, with `decor` around it.
fn verbatim(text: String, decor: Decor) -> Decorated<Ident> {
    let mut ident = Decorated::new(Ident::new_unchecked(text));
    *ident.decor_mut() = decor;
    ident
}

impl VisitMut for Verbatim<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expression) {
        match expr {
            Expression::String(_)
            | Expression::StringTemplate(_)
            | Expression::HeredocTemplate(_) => {
                if let Some(raw) = self.changed(expr) {
                    *expr = Expression::Variable(verbatim(raw, expr.decor().clone()));
                }
            }
            Expression::Object(object) => {
                self.object_keys(object);
                visit_mut::visit_object_mut(self, object);
            }
            Expression::BinaryOp(op) => {
                // Before the operands may lose their spans to verbatim nodes.
                if let Some(gap) = self.between(op.lhs_expr.span(), op.operator.span()) {
                    take_trailing(&mut op.lhs_expr);
                    op.operator.decor_mut().set_prefix(gap);
                }
                if let Some(gap) = self.between(op.operator.span(), op.rhs_expr.span()) {
                    take_leading(&mut op.rhs_expr);
                    op.operator.decor_mut().set_suffix(gap);
                }
                visit_mut::visit_expr_mut(self, expr);
            }
            Expression::Traversal(traversal) => {
                let mut previous = traversal.expr.span();
                for i in 0..traversal.operators.len() {
                    let span = traversal.operators[i].span();
                    if unresolved(traversal.operators[i].decor().prefix()) {
                        let gap = self.between(previous, span.clone()).unwrap_or_default();
                        match i {
                            0 => take_trailing(&mut traversal.expr),
                            _ => take_operator_trailing(&mut traversal.operators[i - 1]),
                        };
                        traversal.operators[i].decor_mut().set_prefix(gap);
                    }
                    previous = span;
                }
                visit_mut::visit_expr_mut(self, expr);
            }
            _ => visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_block_label_mut(&mut self, label: &mut BlockLabel) {
        let BlockLabel::String(string) = label else {
            return;
        };
        let Some(raw) = string.span().and_then(|span| self.source.get(span)) else {
            return;
        };
        let mut bare = string.clone();
        bare.decor_mut().clear();
        if BlockLabel::String(bare).to_string() != raw {
            *label = BlockLabel::Ident(verbatim(raw.to_owned(), string.decor().clone()));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Trivia: the whitespace and comments of one gap between tokens

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    Space,
    Newline,
    Comment,
}

/// Splits trivia into spaces, line breaks and comments (a line comment without its line
/// break). None if the text holds anything else, which the parser never puts in decor.
fn lex(text: &str) -> Option<Vec<(Piece, Range<usize>)>> {
    let bytes = text.as_bytes();
    let mut pieces = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let piece = match (bytes[i], bytes.get(i + 1)) {
            (b' ' | b'\t' | b'\r', _) => {
                while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\r') {
                    i += 1;
                }
                Piece::Space
            }
            (b'\n', _) => {
                i += 1;
                Piece::Newline
            }
            (b'#', _) | (b'/', Some(b'/')) => {
                i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
                Piece::Comment
            }
            (b'/', Some(b'*')) => {
                i = i + 2 + text[i + 2..].find("*/")? + 2;
                Piece::Comment
            }
            _ => return None,
        };
        pieces.push((piece, start..i));
    }
    Some(pieces)
}

/// One line of trivia: where it starts, and the span from its first comment to its last.
#[derive(Debug, Clone)]
struct Line {
    start: usize,
    comments: Option<Range<usize>>,
}

/// The lines of a gap: the first continues the line before the gap, the last holds the
/// token after it.
fn lines(text: &str) -> Option<Vec<Line>> {
    let mut lines = vec![Line {
        start: 0,
        comments: None,
    }];
    for (piece, range) in lex(text)? {
        match piece {
            Piece::Space => {}
            Piece::Newline => lines.push(Line {
                start: range.end,
                comments: None,
            }),
            Piece::Comment => {
                let line = lines.last_mut()?;
                line.comments = Some(match &line.comments {
                    Some(c) => c.start..range.end,
                    None => range,
                });
            }
        }
    }
    Some(lines)
}

/// A comment's text without trailing whitespace.
fn comment_text<'t>(text: &'t str, range: &Range<usize>) -> &'t str {
    text[range.clone()].trim_end()
}

/// The spaces a user put before a trailing comment: kept if they are plain spaces.
fn user_spacing(space: &str) -> String {
    if !space.is_empty() && space.bytes().all(|b| b == b' ') {
        space.to_owned()
    } else {
        " ".to_owned()
    }
}

fn indent(level: usize) -> String {
    "  ".repeat(level)
}

/// A comment at the end of a line, before its line break.
#[derive(Debug, Clone)]
struct TrailingComment {
    /// The spaces before it as written.
    spacing: String,
    text: String,
}

impl TrailingComment {
    fn with_spaces(&self, spaces: usize) -> String {
        format!("{}{}", " ".repeat(spaces), self.text)
    }

    fn as_written(&self) -> String {
        format!("{}{}", self.spacing, self.text)
    }
}

/// The end of a line (what follows the last token before the line break): the comment
/// there, if any. Err with the text itself when it is not plain trivia on one line.
fn line_end(text: &str) -> Result<Option<TrailingComment>, String> {
    match lines(text).as_deref() {
        Some([line]) => Ok(line.comments.as_ref().map(|c| TrailingComment {
            spacing: user_spacing(&text[line.start..c.start]),
            text: comment_text(text, c).to_owned(),
        })),
        _ => Err(text.to_owned()),
    }
}

/// How to normalize one gap.
#[derive(Debug, Clone, Copy)]
struct Gap {
    /// The gap when it holds neither a line break nor a comment.
    inline: &'static str,
    /// Indentation level of whole-line comments.
    comments: usize,
    /// Indentation level of the next token when it starts a line.
    next: usize,
}

impl Gap {
    fn at(inline: &'static str, level: usize) -> Gap {
        Gap {
            inline,
            comments: level,
            next: level,
        }
    }
}

fn take_prefix(decor: &mut Decor) -> String {
    let text = decor.prefix().map(raw).unwrap_or_default();
    decor.set_prefix("");
    text
}

fn take_suffix(decor: &mut Decor) -> String {
    let text = decor.suffix().map(raw).unwrap_or_default();
    decor.set_suffix("");
    text
}

fn raw(s: &RawString) -> String {
    let s: &str = s;
    s.to_owned()
}

/// Takes the trivia before an expression's first token: its own prefix and that of the
/// sub-expression its text starts with.
fn take_leading(expr: &mut Expression) -> String {
    let mut text = take_prefix(expr.decor_mut());
    match expr {
        Expression::Traversal(t) => text += &take_leading(&mut t.expr),
        Expression::BinaryOp(op) => text += &take_leading(&mut op.lhs_expr),
        Expression::Conditional(c) => text += &take_leading(&mut c.cond_expr),
        Expression::FuncCall(call) => {
            let first = match call.name.namespace.first_mut() {
                Some(part) => part.decor_mut(),
                None => call.name.name.decor_mut(),
            };
            text += &take_prefix(first);
        }
        _ => {}
    }
    text
}

/// Takes the trivia after an expression's last token.
fn take_trailing(expr: &mut Expression) -> String {
    let inner = match expr {
        Expression::Traversal(t) => match t.operators.last_mut() {
            Some(op) => take_operator_trailing(op),
            None => take_trailing(&mut t.expr),
        },
        Expression::BinaryOp(op) => take_trailing(&mut op.rhs_expr),
        Expression::Conditional(c) => take_trailing(&mut c.false_expr),
        Expression::UnaryOp(op) => take_trailing(&mut op.expr),
        Expression::FuncCall(call) => take_suffix(call.args.decor_mut()),
        _ => String::new(),
    };
    inner + &take_suffix(expr.decor_mut())
}

fn take_operator_trailing(op: &mut Decorated<TraversalOperator>) -> String {
    let inner = match op.value_mut() {
        TraversalOperator::GetAttr(ident) => take_suffix(ident.decor_mut()),
        TraversalOperator::LegacyIndex(index) => take_suffix(index.decor_mut()),
        TraversalOperator::AttrSplat(splat) => take_suffix(splat.decor_mut()),
        TraversalOperator::Index(_) | TraversalOperator::FullSplat(_) => String::new(),
    };
    inner + &take_suffix(op.decor_mut())
}

/// The width of text on one line.
fn width(text: &str) -> usize {
    text.chars().count()
}

/// Whether an attribute value joins `=` alignment: it fits on its line, or is a heredoc
/// (whose body Terraform does not count as lines).
fn aligns(value: &Expression) -> bool {
    let text = value.to_string();
    !text.contains('\n') || text.trim_start().starts_with("<<")
}

/// For rows of (joins the previous row, width of the cell before the aligned column),
/// the spaces to put before the aligned column: groups of consecutive rows share the
/// column one space after the widest.
fn align(rows: &[(bool, Option<usize>)]) -> Vec<Option<usize>> {
    let mut spaces = vec![None; rows.len()];
    let mut i = 0;
    while i < rows.len() {
        if rows[i].1.is_none() {
            i += 1;
            continue;
        }
        let mut end = i + 1;
        while end < rows.len() && rows[end].0 && rows[end].1.is_some() {
            end += 1;
        }
        let widest = rows[i..end].iter().filter_map(|r| r.1).max().unwrap_or(0);
        for (k, row) in rows.iter().enumerate().take(end).skip(i) {
            spaces[k] = row.1.map(|w| widest - w + 1);
        }
        i = end;
    }
    spaces
}

// ---------------------------------------------------------------------------------------
// The formatter

/// One structure of a body, or one item of a multi-line object, for alignment.
#[derive(Debug)]
struct Row {
    /// Directly below the previous row: no blank or comment line between.
    contiguous: bool,
    /// The key's width, when the `=` takes part in alignment.
    key: Option<usize>,
    /// An object item alone on one line, whose trailing comment may be aligned (body
    /// rows work this out from their printed text).
    one_line: bool,
    comment: Option<TrailingComment>,
}

struct Formatter {
    /// The indentation level of the line being written.
    line: usize,
}

impl Formatter {
    /// Normalizes a gap that starts after a token on the current line.
    fn gap(&mut self, text: &str, gap: Gap) -> String {
        let Some(lines) = lines(text) else {
            return text.to_owned();
        };
        let Some((first, rest)) = lines.split_first() else {
            return text.to_owned();
        };
        if rest.is_empty() {
            return match first.comments {
                None => gap.inline.to_owned(),
                Some(_) => text.to_owned(),
            };
        }
        let mut out = String::new();
        if let Some(c) = &first.comments {
            out += &user_spacing(&text[first.start..c.start]);
            out += comment_text(text, c);
        }
        out.push('\n');
        out += &self.full_lines(text, rest, gap, false);
        out
    }

    /// Normalizes a gap that starts at the beginning of a line; the last line holds the
    /// next token. With `drop_leading_blanks`, blank lines before anything are removed.
    fn line_start_gap(&mut self, text: &str, gap: Gap, drop_leading_blanks: bool) -> String {
        match lines(text) {
            Some(lines) => self.full_lines(text, &lines, gap, drop_leading_blanks),
            None => text.to_owned(),
        }
    }

    fn full_lines(&mut self, text: &str, lines: &[Line], gap: Gap, mut blank: bool) -> String {
        let Some((last, middle)) = lines.split_last() else {
            return String::new();
        };
        let mut out = String::new();
        for line in middle {
            match &line.comments {
                Some(c) => {
                    out += &indent(gap.comments);
                    out += comment_text(text, c);
                    out.push('\n');
                    blank = false;
                }
                None if blank => {}
                None => {
                    out.push('\n');
                    blank = true;
                }
            }
        }
        out += &indent(gap.next);
        if let Some(c) = &last.comments {
            out += comment_text(text, c);
            out.push(' ');
        }
        self.line = gap.next;
        out
    }

    /// The top-level body: no blank lines at the start, one newline at the end.
    fn root(&mut self, body: &mut Body) {
        self.body(body, 0, true, None);
        body.set_prefer_omit_trailing_newline(false);
        let text = take_prefix(body.decor_mut()) + &take_suffix(body.decor_mut());
        let Some(lines) = lines(&text) else {
            body.decor_mut().set_suffix(text);
            return;
        };
        // Whole lines (the body's last structure ended with its line break), then the end
        // of the file: blank lines only between comments.
        let mut out: Vec<Option<&str>> = Vec::new();
        for line in &lines {
            match &line.comments {
                Some(c) => out.push(Some(comment_text(&text, c))),
                None if out.last() == Some(&None) => {}
                None if out.is_empty() && body.is_empty() => {}
                None => out.push(None),
            }
        }
        while out.last() == Some(&None) {
            out.pop();
        }
        let suffix: String = out
            .iter()
            .map(|line| format!("{}\n", line.unwrap_or("")))
            .collect();
        body.decor_mut().set_suffix(suffix);
    }

    /// Formats the structures of a body whose lines are at `depth`. `header` is the comment
    /// ending the line that opens the body, and that line's width: the comment aligns with
    /// those of the lines below it. Returns it as formatted.
    fn body(
        &mut self,
        body: &mut Body,
        depth: usize,
        root: bool,
        header: Option<(usize, TrailingComment)>,
    ) -> Option<String> {
        let mut rows = Vec::with_capacity(body.len());
        for i in 0..body.len() {
            let Some(structure) = body.get_mut(i) else {
                continue;
            };
            let mut prefix = take_prefix(structure.decor_mut());
            match structure {
                Structure::Attribute(attr) => prefix += &take_prefix(attr.key.decor_mut()),
                Structure::Block(block) => prefix += &take_prefix(block.ident.decor_mut()),
            }
            let prefix = self.line_start_gap(&prefix, Gap::at("", depth), root && i == 0);
            let contiguous = prefix == indent(depth);
            structure.decor_mut().set_prefix(prefix);
            let (key, end) = match structure {
                Structure::Attribute(attr) => {
                    let key_aligns = self.attribute(attr, depth, depth);
                    let key = (key_aligns && aligns(&attr.value)).then(|| width(attr.key.as_str()));
                    (key, take_trailing(&mut attr.value))
                }
                Structure::Block(block) => {
                    self.block(block, depth);
                    (None, String::new())
                }
            };
            let end = end + &take_suffix(structure.decor_mut());
            let comment = match line_end(&end) {
                Ok(comment) => comment,
                Err(text) => {
                    structure.decor_mut().set_suffix(text);
                    None
                }
            };
            rows.push(Row {
                contiguous,
                key,
                one_line: false,
                comment,
            });
        }
        self.align_body(body, depth, &rows, header)
    }

    fn align_body(
        &mut self,
        body: &mut Body,
        depth: usize,
        rows: &[Row],
        header: Option<(usize, TrailingComment)>,
    ) -> Option<String> {
        let keys: Vec<_> = rows.iter().map(|r| (r.contiguous, r.key)).collect();
        let pads = align(&keys);
        // Trailing comments: the width of the line each ends, indentation included; a
        // comment after a multi-line structure (on its last line) starts a new group.
        let mut widths = Vec::with_capacity(rows.len() + 1);
        if let Some((header_width, _)) = &header {
            widths.push((false, Some(*header_width)));
        }
        for (i, (row, pad)) in rows.iter().zip(&pads).enumerate() {
            let Some(structure) = body.get_mut(i) else {
                widths.push((false, None));
                continue;
            };
            let text = match structure {
                Structure::Attribute(attr) => {
                    if let Some(pad) = pad {
                        attr.key.decor_mut().set_suffix(" ".repeat(*pad));
                    }
                    let gap = attr.key.decor().suffix().map(raw).unwrap_or_default();
                    format!("{}{gap}={}", attr.key.as_str(), attr.value)
                }
                Structure::Block(block) => block_text(block),
            };
            let (last_line, one_line) = match text.rsplit_once('\n') {
                Some((_, last)) => (width(last), false),
                None => (2 * depth + width(&text), true),
            };
            let cell = row.comment.as_ref().map(|_| last_line);
            widths.push((row.contiguous && one_line, cell));
        }
        let mut pads = align(&widths).into_iter();
        let header = header.map(|(_, comment)| match pads.next().flatten() {
            Some(pad) => comment.with_spaces(pad),
            None => comment.as_written(),
        });
        for (i, (row, pad)) in rows.iter().zip(pads).enumerate() {
            let (Some(structure), Some(comment)) = (body.get_mut(i), &row.comment) else {
                continue;
            };
            let suffix = match pad {
                Some(pad) => comment.with_spaces(pad),
                None => comment.as_written(),
            };
            structure.decor_mut().set_suffix(suffix);
        }
        header
    }

    /// Formats an attribute whose line is at `level`, continuation lines at `ctx`. Returns
    /// whether its `=` may be aligned (no comment before it).
    fn attribute(&mut self, attr: &mut Attribute, level: usize, ctx: usize) -> bool {
        self.line = level;
        let key_gap = take_suffix(attr.key.decor_mut());
        let plain = lines(&key_gap).is_some_and(|l| l.len() == 1 && l[0].comments.is_none());
        attr.key
            .decor_mut()
            .set_suffix(if plain { " ".to_owned() } else { key_gap });
        let lead = take_leading(&mut attr.value);
        let lead = self.gap(&lead, Gap::at(" ", ctx));
        attr.value.decor_mut().set_prefix(lead);
        self.expr(&mut attr.value, ctx);
        plain
    }

    fn block(&mut self, block: &mut Block, depth: usize) {
        let header = Gap::at(" ", depth);
        let gap = take_suffix(block.ident.decor_mut());
        let gap = self.gap(&gap, header);
        block.ident.decor_mut().set_suffix(gap);
        for label in &mut block.labels {
            let gap = take_suffix(label.decor_mut());
            let gap = self.gap(&gap, header);
            label.decor_mut().set_suffix(gap);
        }
        let body = &mut block.body;
        if body.prefer_oneline() {
            self.one_line_body(body, depth);
            return;
        }
        let open = take_prefix(body.decor_mut());
        let header = match line_end(&open) {
            Ok(comment) => comment.map(|c| (2 * depth + header_width(block), c)),
            Err(text) => {
                block.body.decor_mut().set_prefix(text);
                None
            }
        };
        let body = &mut block.body;
        if let Some(open) = self.body(body, depth + 1, false, header) {
            body.decor_mut().set_prefix(open);
        }
        let close = take_suffix(body.decor_mut());
        let gap = Gap {
            inline: "",
            comments: depth + 1,
            next: depth,
        };
        let close = self.line_start_gap(&close, gap, false);
        body.decor_mut().set_suffix(close);
    }

    /// `name { attr = value }` or `name {}`.
    fn one_line_body(&mut self, body: &mut Body, depth: usize) {
        let mut lead = take_prefix(body.decor_mut());
        let (mut close, inline) = match body.get_mut(0).and_then(Structure::as_attribute_mut) {
            Some(attr) => {
                lead += &take_prefix(attr.decor_mut());
                let lead = self.gap(&lead, Gap::at(" ", depth + 1));
                attr.decor_mut().set_prefix(lead);
                self.attribute(attr, depth, depth + 1);
                let close = take_trailing(&mut attr.value) + &take_suffix(attr.decor_mut());
                (close, " ")
            }
            None => (lead, ""),
        };
        close += &take_suffix(body.decor_mut());
        let gap = Gap {
            inline,
            comments: depth + 1,
            next: depth,
        };
        let close = self.gap(&close, gap);
        body.decor_mut().set_suffix(close);
    }

    /// Formats the gaps inside an expression (not those before and after it); lines that
    /// continue it outside any new bracket are at `ctx`.
    fn expr(&mut self, expr: &mut Expression, ctx: usize) {
        match expr {
            Expression::Array(array) => self.array(array),
            Expression::Object(object) => self.object(object),
            Expression::FuncCall(call) => {
                let tight = Gap::at("", ctx);
                let count = call.name.namespace.len();
                for (i, part) in call.name.namespace.iter_mut().enumerate() {
                    if i > 0 {
                        let gap = take_prefix(part.decor_mut());
                        part.decor_mut().set_prefix(self.gap(&gap, tight));
                    }
                    let gap = take_suffix(part.decor_mut());
                    part.decor_mut().set_suffix(self.gap(&gap, tight));
                }
                let name = call.name.name.decor_mut();
                if count > 0 {
                    let gap = take_prefix(name);
                    name.set_prefix(self.gap(&gap, tight));
                }
                let gap = take_suffix(name) + &take_prefix(call.args.decor_mut());
                let gap = self.gap(&gap, tight);
                call.args.decor_mut().set_prefix(gap);
                self.args(&mut call.args);
            }
            Expression::Parenthesis(paren) => {
                let (open, inner) = (self.line, self.line + 1);
                let expr = paren.inner_mut();
                let gap = take_leading(expr);
                let gap = self.gap(&gap, Gap::at("", inner));
                expr.decor_mut().set_prefix(gap);
                self.expr(expr, inner);
                let gap = take_trailing(expr);
                let gap = self.gap(
                    &gap,
                    Gap {
                        inline: "",
                        comments: inner,
                        next: open,
                    },
                );
                expr.decor_mut().set_suffix(gap);
            }
            Expression::Conditional(cond) => {
                let spaced = Gap::at(" ", ctx);
                self.expr(&mut cond.cond_expr, ctx);
                let gap = take_trailing(&mut cond.cond_expr);
                let gap = self.gap(&gap, spaced);
                cond.cond_expr.decor_mut().set_suffix(gap);
                for branch in [&mut cond.true_expr, &mut cond.false_expr] {
                    let gap = take_leading(branch);
                    let gap = self.gap(&gap, spaced);
                    branch.decor_mut().set_prefix(gap);
                    self.expr(branch, ctx);
                }
                let gap = take_trailing(&mut cond.true_expr);
                let gap = self.gap(&gap, spaced);
                cond.true_expr.decor_mut().set_suffix(gap);
            }
            Expression::BinaryOp(op) => {
                let spaced = Gap::at(" ", ctx);
                self.expr(&mut op.lhs_expr, ctx);
                let gap = take_trailing(&mut op.lhs_expr) + &take_prefix(op.operator.decor_mut());
                let gap = self.gap(&gap, spaced);
                op.operator.decor_mut().set_prefix(gap);
                let gap = take_suffix(op.operator.decor_mut()) + &take_leading(&mut op.rhs_expr);
                let gap = self.gap(&gap, spaced);
                op.operator.decor_mut().set_suffix(gap);
                self.expr(&mut op.rhs_expr, ctx);
            }
            Expression::UnaryOp(op) => {
                let gap = take_leading(&mut op.expr);
                let gap = self.gap(&gap, Gap::at("", ctx));
                op.expr.decor_mut().set_prefix(gap);
                self.expr(&mut op.expr, ctx);
            }
            Expression::Traversal(traversal) => {
                let tight = Gap::at("", ctx);
                self.expr(&mut traversal.expr, ctx);
                for i in 0..traversal.operators.len() {
                    let before = match i {
                        0 => take_trailing(&mut traversal.expr),
                        _ => take_operator_trailing(&mut traversal.operators[i - 1]),
                    };
                    let op = &mut traversal.operators[i];
                    let gap = before + &take_prefix(op.decor_mut());
                    let gap = self.gap(&gap, tight);
                    op.decor_mut().set_prefix(gap);
                    self.operator(op.value_mut(), ctx);
                }
            }
            Expression::ForExpr(for_expr) => self.for_expr(for_expr),
            // Literals, names, strings, templates and heredocs: printed as written.
            Expression::Null(_)
            | Expression::Bool(_)
            | Expression::Number(_)
            | Expression::String(_)
            | Expression::StringTemplate(_)
            | Expression::HeredocTemplate(_)
            | Expression::Variable(_) => {}
        }
    }

    fn operator(&mut self, op: &mut TraversalOperator, ctx: usize) {
        let tight = Gap::at("", ctx);
        match op {
            TraversalOperator::GetAttr(ident) => {
                let gap = take_prefix(ident.decor_mut());
                ident.decor_mut().set_prefix(self.gap(&gap, tight));
            }
            TraversalOperator::LegacyIndex(index) => {
                let gap = take_prefix(index.decor_mut());
                index.decor_mut().set_prefix(self.gap(&gap, tight));
            }
            TraversalOperator::AttrSplat(splat) => {
                let gap = take_prefix(splat.decor_mut());
                splat.decor_mut().set_prefix(self.gap(&gap, tight));
            }
            TraversalOperator::FullSplat(splat) => {
                let gap = take_prefix(splat.decor_mut());
                splat.decor_mut().set_prefix(self.gap(&gap, tight));
                let gap = take_suffix(splat.decor_mut());
                splat.decor_mut().set_suffix(self.gap(&gap, tight));
            }
            TraversalOperator::Index(index) => {
                let (open, inner) = (self.line, self.line + 1);
                let gap = take_leading(index);
                let gap = self.gap(&gap, Gap::at("", inner));
                index.decor_mut().set_prefix(gap);
                self.expr(index, inner);
                let gap = take_trailing(index);
                let gap = self.gap(
                    &gap,
                    Gap {
                        inline: "",
                        comments: inner,
                        next: open,
                    },
                );
                index.decor_mut().set_suffix(gap);
            }
        }
    }

    fn array(&mut self, array: &mut Array) {
        let (open, inner) = (self.line, self.line + 1);
        let trailing_comma = array.trailing_comma();
        let mut close = self.items(array.len(), array.iter_mut(), trailing_comma, inner);
        close += array.trailing();
        let inline = if trailing_comma && !close.is_empty() {
            " "
        } else {
            ""
        };
        let gap = Gap {
            inline,
            comments: inner,
            next: open,
        };
        let close = self.gap(&close, gap);
        array.set_trailing(close);
    }

    /// The items of a list or argument list, each with the gap before and after it; a
    /// final item is followed by a separator when `marker` (a trailing comma or `...`).
    /// Returns what stood after the last item, for the closing bracket's gap.
    fn items<'e>(
        &mut self,
        count: usize,
        items: impl Iterator<Item = &'e mut Expression>,
        marker: bool,
        inner: usize,
    ) -> String {
        let mut close = String::new();
        for (i, item) in items.enumerate() {
            self.item(item, i == 0, inner);
            if i + 1 < count || marker {
                let gap = take_trailing(item);
                let gap = self.gap(&gap, Gap::at("", inner));
                item.decor_mut().set_suffix(gap);
            } else {
                close = take_trailing(item);
            }
        }
        close
    }

    /// The gap before an item of a list or argument list, and the item.
    fn item(&mut self, item: &mut Expression, first: bool, inner: usize) {
        let gap = take_leading(item);
        let gap = self.gap(&gap, Gap::at(if first { "" } else { " " }, inner));
        item.decor_mut().set_prefix(gap);
        self.expr(item, inner);
    }

    fn args(&mut self, args: &mut FuncArgs) {
        let (open, inner) = (self.line, self.line + 1);
        let marker = args.trailing_comma() || args.expand_final();
        let mut close = self.items(args.len(), args.iter_mut(), marker, inner);
        close += args.trailing();
        let inline = if args.trailing_comma() && !args.expand_final() && !close.is_empty() {
            " "
        } else {
            ""
        };
        let gap = Gap {
            inline,
            comments: inner,
            next: open,
        };
        let close = self.gap(&close, gap);
        args.set_trailing(close);
    }

    fn object(&mut self, object: &mut Object) {
        let (open, inner) = (self.line, self.line + 1);
        let count = object.len();
        let mut rows = Vec::with_capacity(count);
        // Whether each item's line starts before its key / ends after its value.
        let mut starts = Vec::with_capacity(count);
        let mut terminators = Vec::with_capacity(count);
        let mut previous = None;
        let mut close = String::new();
        for (i, (mut key, value)) in object.iter_mut().enumerate() {
            let gap = take_prefix(key.decor_mut());
            let gap = if previous == Some(ObjectValueTerminator::Newline) {
                self.line_start_gap(&gap, Gap::at("", inner), false)
            } else {
                self.gap(&gap, Gap::at(" ", inner))
            };
            let (starts_line, contiguous) = match previous {
                Some(ObjectValueTerminator::Newline) => (true, gap == indent(inner)),
                // A comment ending the previous line does not separate the items.
                _ => (
                    gap.contains('\n'),
                    gap.split_once('\n')
                        .is_some_and(|(_, line)| line == indent(inner)),
                ),
            };
            key.decor_mut().set_prefix(gap);
            starts.push(starts_line);

            let key_gap = take_suffix(key.decor_mut());
            let plain = lines(&key_gap).is_some_and(|l| l.len() == 1 && l[0].comments.is_none());
            let equals = value.assignment() == ObjectValueAssignment::Equals;
            let key_gap = match (plain, equals) {
                (true, true) => " ".to_owned(),
                (true, false) if key_gap.is_empty() => String::new(),
                (true, false) => " ".to_owned(),
                (false, _) => key_gap,
            };
            key.decor_mut().set_suffix(key_gap);

            let expr = value.expr_mut();
            let gap = take_leading(expr);
            let gap = self.gap(&gap, Gap::at(" ", inner));
            expr.decor_mut().set_prefix(gap);
            self.expr(expr, inner);

            let terminator = value.terminator();
            let expr = value.expr_mut();
            let mut comment = None;
            match terminator {
                ObjectValueTerminator::Newline => match line_end(&take_trailing(expr)) {
                    Ok(c) => comment = c,
                    Err(text) => expr.decor_mut().set_suffix(text),
                },
                ObjectValueTerminator::Comma => {
                    let gap = take_trailing(expr);
                    let gap = self.gap(&gap, Gap::at("", inner));
                    expr.decor_mut().set_suffix(gap);
                }
                ObjectValueTerminator::None if i + 1 == count => close = take_trailing(expr),
                ObjectValueTerminator::None => {
                    let gap = take_trailing(expr);
                    let gap = self.gap(&gap, Gap::at(" ", inner));
                    expr.decor_mut().set_suffix(gap);
                }
            }
            let key_width = width(&key_text(key.get()));
            let one_line = !expr.to_string().contains('\n');
            let aligned = plain && equals && aligns(expr);
            rows.push(Row {
                contiguous,
                key: aligned.then_some(key_width),
                one_line,
                comment,
            });
            terminators.push(terminator);
            previous = Some(terminator);
        }
        close += object.trailing();
        let close = match previous {
            Some(ObjectValueTerminator::Newline) => {
                let gap = Gap {
                    inline: "",
                    comments: inner,
                    next: open,
                };
                self.line_start_gap(&close, gap, false)
            }
            Some(_) => {
                let gap = Gap {
                    inline: " ",
                    comments: inner,
                    next: open,
                };
                self.gap(&close, gap)
            }
            None => {
                let gap = Gap {
                    inline: "",
                    comments: inner,
                    next: open,
                };
                self.gap(&close, gap)
            }
        };
        let close_breaks = previous == Some(ObjectValueTerminator::Newline) || close.contains('\n');
        object.set_trailing(close);

        // An item takes part in alignment when it has its line to itself.
        for i in 0..rows.len() {
            let ends_line = terminators[i] == ObjectValueTerminator::Newline
                || starts.get(i + 1).copied().unwrap_or(close_breaks);
            if !(starts[i] && ends_line) {
                rows[i].key = None;
                rows[i].one_line = false;
            }
        }
        self.align_object(object, &rows);
    }

    fn align_object(&mut self, object: &mut Object, rows: &[Row]) {
        let keys: Vec<_> = rows.iter().map(|r| (r.contiguous, r.key)).collect();
        let pads = align(&keys);
        let mut widths = Vec::with_capacity(rows.len());
        for ((mut key, value), (row, pad)) in object.iter_mut().zip(rows.iter().zip(&pads)) {
            if let Some(pad) = pad {
                key.decor_mut().set_suffix(" ".repeat(*pad));
            }
            let gap = key.decor().suffix().map(raw).unwrap_or_default();
            let line =
                width(&key_text(key.get())) + width(&gap) + 1 + width(&value.expr().to_string());
            let aligned = row.comment.is_some() && row.one_line;
            widths.push((row.contiguous, aligned.then_some(line)));
        }
        let pads = align(&widths);
        for ((_, value), (row, pad)) in object.iter_mut().zip(rows.iter().zip(pads)) {
            let Some(comment) = &row.comment else {
                continue;
            };
            let suffix = match pad {
                Some(pad) => comment.with_spaces(pad),
                None => comment.as_written(),
            };
            value.expr_mut().decor_mut().set_suffix(suffix);
        }
    }

    fn for_expr(&mut self, for_expr: &mut ForExpr) {
        let (open, inner) = (self.line, self.line + 1);
        let brace = if for_expr.key_expr.is_some() { " " } else { "" };
        let spaced = Gap::at(" ", inner);
        let intro = &mut for_expr.intro;
        let gap = take_prefix(intro.decor_mut());
        let gap = self.gap(&gap, Gap::at(brace, inner));
        intro.decor_mut().set_prefix(gap);
        if let Some(key) = &mut intro.key_var {
            let gap = take_prefix(key.decor_mut());
            key.decor_mut().set_prefix(self.gap(&gap, spaced));
            let gap = take_suffix(key.decor_mut());
            key.decor_mut()
                .set_suffix(self.gap(&gap, Gap::at("", inner)));
        }
        let value = &mut intro.value_var;
        let gap = take_prefix(value.decor_mut());
        value.decor_mut().set_prefix(self.gap(&gap, spaced));
        let gap = take_suffix(value.decor_mut());
        value.decor_mut().set_suffix(self.gap(&gap, spaced));
        let collection = &mut intro.collection_expr;
        let gap = take_leading(collection);
        collection.decor_mut().set_prefix(self.gap(&gap, spaced));
        self.expr(collection, inner);
        let gap = take_trailing(collection);
        collection.decor_mut().set_suffix(self.gap(&gap, spaced));

        let mut gap = take_suffix(intro.decor_mut());
        if let Some(key) = &mut for_expr.key_expr {
            gap += &take_leading(key);
            key.decor_mut().set_prefix(self.gap(&gap, spaced));
            self.expr(key, inner);
            let after = take_trailing(key);
            key.decor_mut().set_suffix(self.gap(&after, spaced));
            gap = String::new();
        }
        let value = &mut for_expr.value_expr;
        gap += &take_leading(value);
        value.decor_mut().set_prefix(self.gap(&gap, spaced));
        self.expr(value, inner);
        let closing = Gap {
            inline: brace,
            comments: inner,
            next: open,
        };
        let mut gap = String::new();
        if for_expr.grouping {
            let before = take_trailing(value);
            value
                .decor_mut()
                .set_suffix(self.gap(&before, Gap::at("", inner)));
        } else {
            gap = take_trailing(value);
        }
        match &mut for_expr.cond {
            Some(cond) => {
                gap += &take_prefix(cond.decor_mut());
                cond.decor_mut().set_prefix(self.gap(&gap, spaced));
                let gap = take_leading(&mut cond.expr);
                cond.expr.decor_mut().set_prefix(self.gap(&gap, spaced));
                self.expr(&mut cond.expr, inner);
                let gap = take_trailing(&mut cond.expr) + &take_suffix(cond.decor_mut());
                cond.decor_mut().set_suffix(self.gap(&gap, closing));
            }
            None if !for_expr.grouping => {
                let gap = self.gap(&gap, closing);
                for_expr.value_expr.decor_mut().set_suffix(gap);
            }
            // Nothing can be written between `...` and the closing brace.
            None => {}
        }
    }
}

/// An object key as printed, without its decor.
fn key_text(key: &ObjectKey) -> String {
    match key {
        ObjectKey::Ident(ident) => ident.as_str().to_owned(),
        ObjectKey::Expression(expr) => {
            let mut bare = expr.clone();
            bare.decor_mut().clear();
            bare.to_string()
        }
    }
}

/// The width of a block's first line, up to its `{`.
fn header_width(block: &Block) -> usize {
    let suffix = |decor: &Decor| width(&decor.suffix().map(raw).unwrap_or_default());
    let labels: usize = block
        .labels
        .iter()
        .map(|label| {
            let mut bare = label.clone();
            bare.decor_mut().clear();
            bare.to_string().chars().count() + suffix(label.decor())
        })
        .sum();
    width(block.ident.as_str()) + suffix(block.ident.decor()) + labels + 1
}

/// A block as printed, without the decor around it.
fn block_text(block: &Block) -> String {
    let mut bare = block.clone();
    bare.decor_mut().clear();
    let mut body = Body::new();
    body.push(bare);
    body.set_prefer_omit_trailing_newline(true);
    body.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The non-blank lines without their whitespace: what formatting must keep.
    fn shape(text: &str) -> Vec<String> {
        text.lines()
            .map(|l| l.chars().filter(|c| !c.is_whitespace()).collect::<String>())
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// Formats, checking that the result is stable, that only whitespace changed and that
    /// no line was joined or split (the guard in `format_source` would hide the former).
    fn fmt(text: &str) -> String {
        let mut body = parser::parse_body(text).unwrap();
        Verbatim { source: text }.visit_body_mut(&mut body);
        Formatter { line: 0 }.root(&mut body);
        let out = body.to_string();
        assert!(
            same_tokens(text, &out),
            "more than whitespace changed:\n{out}"
        );
        assert_eq!(shape(text), shape(&out), "lines were joined or split");
        assert_eq!(
            format_source(&out).unwrap(),
            out,
            "not idempotent for:\n{text}"
        );
        out
    }

    #[test]
    fn format_aligns_consecutive_attributes() {
        let input = "a = 1\nlong_name=2\n\nc   =  3\n";
        assert_eq!(fmt(input), "a         = 1\nlong_name = 2\n\nc = 3\n");
    }

    #[test]
    fn format_indents_blocks_and_normalizes_headers() {
        let input = "resource   \"a\"    \"b\"{\nx=1\n    nested {\n  y = [1 ,2]\n}\n}\n";
        assert_eq!(
            fmt(input),
            "resource \"a\" \"b\" {\n  x = 1\n  nested {\n    y = [1, 2]\n  }\n}\n"
        );
    }

    #[test]
    fn format_keeps_comments_and_collapses_blank_lines() {
        let input = "\n\n# head\n\n\n\na = 1   # one\nbb = 2 // two\n/* block */\nc = 3    \n\n\n";
        assert_eq!(
            fmt(input),
            "# head\n\na  = 1 # one\nbb = 2 // two\n/* block */\nc = 3\n"
        );
    }

    #[test]
    fn format_breaks_alignment_at_blocks_and_multi_line_values() {
        let input = "x {\n  a = 1\n  tags = {\n      k = 1\n      long = 2\n  }\n  bbb = 3\n  b {}\n  cc = 4\n}\n";
        assert_eq!(
            fmt(input),
            "x {\n  a = 1\n  tags = {\n    k    = 1\n    long = 2\n  }\n  bbb = 3\n  b {}\n  cc = 4\n}\n"
        );
    }

    #[test]
    fn format_spaces_one_line_expressions_like_terraform() {
        let input = "a = f( x , y... )\nb = {k=1,\"q\"=2}\nc = x . y [ 0 ]\nd = !x\ne = a+b*2\nf = c?1:2\ng = [ for v in l : v if v ]\nh = {for k, v in m : k => v}\ni = {}\nj = []\n";
        assert_eq!(
            fmt(input),
            "a = f(x, y...)\nb = { k = 1, \"q\" = 2 }\nc = x.y[0]\nd = !x\ne = a + b * 2\nf = c ? 1 : 2\ng = [for v in l : v if v]\nh = { for k, v in m : k => v }\ni = {}\nj = []\n"
        );
    }

    #[test]
    fn format_never_changes_strings_or_heredocs() {
        let input = "a = \"caf\\u00e9  \\t\"\nb = \"${ x }  \"\nc = <<-EOT\n      keep   \n   this\n    EOT\nd = { \"\\u0041\" = 1 }\nlabel \"\\u0042\" {}\n";
        let out = fmt(input);
        assert_eq!(
            out,
            "a = \"caf\\u00e9  \\t\"\nb = \"${ x }  \"\nc = <<-EOT\n      keep   \n   this\n    EOT\nd = { \"\\u0041\" = 1 }\nlabel \"\\u0042\" {}\n"
        );
    }

    #[test]
    fn format_indents_multi_line_expressions_by_bracket() {
        let input = "a = [\n1,\n        2, # two\n   ]\nb = foo({\nk = 1\n})\nc = (\nx +\ny\n)\n";
        assert_eq!(
            fmt(input),
            "a = [\n  1,\n  2, # two\n]\nb = foo({\n  k = 1\n})\nc = (\n  x +\n  y\n)\n"
        );
    }

    #[test]
    fn format_aligns_trailing_comments() {
        let input = "a = 1 # x\nlong = 22   # y\n\nb = 1      # z\n";
        assert_eq!(fmt(input), "a    = 1  # x\nlong = 22 # y\n\nb = 1 # z\n");
    }

    #[test]
    fn format_one_line_blocks() {
        assert_eq!(fmt("a {    }\nb {  x=1  }\n"), "a {}\nb { x = 1 }\n");
    }

    #[test]
    fn format_ends_with_one_newline() {
        assert_eq!(fmt("a = 1"), "a = 1\n");
        assert_eq!(fmt("a = 1\n\n\n"), "a = 1\n");
        assert_eq!(fmt(""), "");
        assert_eq!(fmt("\n\n"), "");
        assert_eq!(fmt("# only\n\n"), "# only\n");
    }

    #[test]
    fn format_reports_parse_errors() {
        assert!(format_source("a = {\n").is_err());
    }

    #[test]
    fn format_keeps_line_breaks_around_operators() {
        let input =
            "a = (x +\n  # why\n    y)\nb = (p\n.q)\nc = a + b /* c */ + d\nd = (1 -\n-2)\n";
        assert_eq!(
            fmt(input),
            "a = (x +\n  # why\n  y)\nb = (p\n  .q)\nc = a + b /* c */ + d\nd = (1 -\n  -2)\n"
        );
    }

    #[test]
    fn format_aligns_object_items_on_their_own_lines() {
        let input = "x = {\n  a = 1,\n  long = 2, # c\n  \"k k\" = { p = 1 }\n  m = [\n    1,\n  ]\n  n = 3\n}\n";
        assert_eq!(
            fmt(input),
            "x = {\n  a     = 1,\n  long  = 2, # c\n  \"k k\" = { p = 1 }\n  m = [\n    1,\n  ]\n  n = 3\n}\n"
        );
    }

    #[test]
    fn format_keeps_comments_inside_expressions() {
        let input = "x = [ # open\n  1, /* one */\n\n\n  # before two\n  2\n  # end\n]\ny = f(a # c\n)\nz = { for k, v in m : k => v... }\n";
        assert_eq!(
            fmt(input),
            "x = [ # open\n  1, /* one */\n\n  # before two\n  2\n  # end\n]\ny = f(a # c\n)\nz = { for k, v in m : k => v...}\n"
        );
    }

    #[test]
    fn format_leaves_inline_comments_in_headers_and_keys() {
        let input = "resource /* x */ \"a\"   \"b\" {\n  key /* k */ = 1\n  b { /* c */ }\n}\n";
        assert_eq!(
            fmt(input),
            "resource /* x */ \"a\" \"b\" {\n  key /* k */ = 1\n  b { /* c */ }\n}\n"
        );
    }

    const SAMPLE: &str = r#"# head
variable "hosts" { # open
  type = list(object({ name = string, port = number }))
  default = [
    { name = "a", port = 1 }, # one
    {
      name = "b"
      port = 2
    },
  ]
  validation {
    condition     = alltrue([for h in var.hosts : h.port > 0 && !h.off])
    error_message = "Bad ${var.x} \u00e9."
  }
}

locals {
  a = (var.x ? 1 : -2) * f(3, [4, 5]...)
  b = { for k, v in var.m : k => v.x[0] if v != null }
  c = <<-EOT
    text ${a}
  EOT
  d = provider::p::f(a.b[*].c, a.*.d) // end
  /* block */
}
"#;

    /// Whitespace and comments inserted anywhere: whatever still parses formats with
    /// only whitespace changed, no line joined or split, and stably.
    #[test]
    fn format_survives_whitespace_mutations() {
        const PIECES: &[&str] = &[
            " ", "\t", "\n", "\n\n\n", " # c\n", " // c\n", "/* c */", "/*\n*/", "   \n", "\r\n",
            "\n  ",
        ];
        let mut state: u64 = 0x5eed;
        let mut next = |bound: usize| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as usize) % bound.max(1)
        };
        let mut parsed = 0;
        for _ in 0..400 {
            let mut input = SAMPLE.to_owned();
            for _ in 0..=next(3) {
                let mut at = next(input.len() + 1);
                while !input.is_char_boundary(at) {
                    at -= 1;
                }
                input.insert_str(at, PIECES[next(PIECES.len())]);
            }
            if parser::parse_body(&input).is_ok() {
                fmt(&input);
                parsed += 1;
            }
        }
        assert!(parsed >= 100, "only {parsed} mutations parsed");
    }
}
