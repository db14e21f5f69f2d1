//! Templates with directives (`%{if}`, `%{for}`), strip markers (`~`) and `<<-` heredocs,
//! evaluated as HCL does: the template is first flattened into a token stream, as HCL's
//! scanner sees it, so that a strip marker trims the literal next to it whatever nesting
//! it belongs to and a `<<-` heredoc loses the same indentation on every line, including
//! the lines inside directives (hcl-edit dedents only the top level). Then the tokens are
//! rebuilt into a tree and rendered with the evaluator's own operators and values.

use fleetform_sdk::Value;
use hcl::edit::expr::Expression;
use hcl::edit::template::{Directive, Element, Strip};

use super::eval::{EvalError, Evaluator, span};

enum Token<'a> {
    Literal(String),
    Interpolation(&'a Expression),
    If(&'a Expression),
    Else,
    EndIf,
    For(Option<&'a str>, &'a str, &'a Expression),
    EndFor,
}

enum Node<'a> {
    Literal(String),
    Interpolation(&'a Expression),
    If(&'a Expression, Vec<Node<'a>>, Vec<Node<'a>>),
    For(Option<&'a str>, &'a str, &'a Expression, Vec<Node<'a>>),
}

/// What rendering produced: text, or a result that is unknown until apply.
enum Rendered {
    Text(String),
    Unknown,
}

fn flatten<'a>(
    elements: impl Iterator<Item = &'a Element>,
    depth: usize,
    out: &mut Vec<(Token<'a>, Strip, usize)>,
) {
    for element in elements {
        match element {
            Element::Literal(s) => out.push((
                Token::Literal(super::eval::nfc(s.value().clone())),
                Strip::None,
                depth,
            )),
            Element::Interpolation(i) => out.push((Token::Interpolation(&i.expr), i.strip, depth)),
            Element::Directive(d) => match d.as_ref() {
                Directive::If(d) => {
                    let e = &d.if_expr;
                    out.push((Token::If(&e.cond_expr), e.strip, depth));
                    flatten(e.template.iter(), depth + 1, out);
                    if let Some(e) = &d.else_expr {
                        out.push((Token::Else, e.strip, depth));
                        flatten(e.template.iter(), depth + 1, out);
                    }
                    out.push((Token::EndIf, d.endif_expr.strip, depth));
                }
                Directive::For(d) => {
                    let e = &d.for_expr;
                    let key = e.key_var.as_ref().map(|k| k.as_str());
                    out.push((
                        Token::For(key, e.value_var.as_str(), &e.collection_expr),
                        e.strip,
                        depth,
                    ));
                    flatten(e.template.iter(), depth + 1, out);
                    out.push((Token::EndFor, d.endfor_expr.strip, depth));
                }
            },
        }
    }
}

/// Puts back the indentation hcl-edit removed from the top-level literals of a `<<-`
/// heredoc (it dedents those alone, before strip markers apply), so that the whole
/// template can be dedented as HCL does.
fn undo_top_level_dedent(tokens: &mut [(Token<'_>, Strip, usize)], indent: usize) {
    let pad = " ".repeat(indent);
    let mut skip_first = false;
    for (token, _, depth) in tokens.iter_mut() {
        if *depth > 0 {
            continue;
        }
        let Token::Literal(text) = token else {
            skip_first = true;
            continue;
        };
        let mut out = String::with_capacity(text.len() + indent);
        for (i, line) in text.split_inclusive('\n').enumerate() {
            let content = line.strip_suffix('\n').unwrap_or(line);
            if !(content.is_empty() || i == 0 && skip_first) {
                out.push_str(&pad);
            }
            out.push_str(line);
        }
        skip_first = !out.ends_with('\n');
        *text = out;
    }
}

/// HCL's flush heredoc: the smallest indentation of the literals that start a line is
/// removed from each of them. A literal starts a line when it opens the template or
/// follows a literal that ended one (strip markers applied first, so a line a `~` joined
/// to the previous one keeps its indentation, as in Terraform).
fn dedent(tokens: &mut [Token<'_>]) {
    let mut starts = Vec::new();
    let mut line_start = true;
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Token::Literal(text) => {
                if line_start {
                    starts.push(i);
                }
                line_start = text.ends_with('\n');
            }
            _ => line_start = false,
        }
    }
    let leading = |t: &Token<'_>| match t {
        Token::Literal(text) => text.chars().take_while(|c| *c == ' ' || *c == '\t').count(),
        _ => 0,
    };
    let min = starts
        .iter()
        .filter(|i| matches!(&tokens[**i], Token::Literal(t) if t != "\n" && !t.is_empty()))
        .map(|i| leading(&tokens[*i]))
        .min()
        .unwrap_or(0);
    for i in starts {
        if let Token::Literal(text) = &mut tokens[i] {
            let cut = leading(&Token::Literal(text.clone())).min(min);
            text.replace_range(..cut, "");
        }
    }
}

/// Applies `~` markers to the literals next to them.
fn strip(tokens: &mut [(Token<'_>, Strip, usize)]) {
    for i in 0..tokens.len() {
        let marker = tokens[i].1;
        if marker.strip_start()
            && i > 0
            && let Token::Literal(s) = &mut tokens[i - 1].0
        {
            s.truncate(s.trim_end().len());
        }
        if marker.strip_end()
            && let Some((Token::Literal(s), _, _)) = tokens.get_mut(i + 1)
        {
            *s = s.trim_start().to_owned();
        }
    }
}

/// Rebuilds the tree from `tokens[*at..]` until an `else`, `endif` or `endfor` (left
/// unconsumed for the caller).
fn build<'a>(tokens: &mut std::iter::Peekable<std::vec::IntoIter<Token<'a>>>) -> Vec<Node<'a>> {
    let mut nodes = Vec::new();
    while let Some(token) = tokens.peek() {
        if matches!(token, Token::Else | Token::EndIf | Token::EndFor) {
            break;
        }
        let Some(token) = tokens.next() else { break };
        match token {
            Token::Literal(s) => nodes.push(Node::Literal(s)),
            Token::Interpolation(e) => nodes.push(Node::Interpolation(e)),
            Token::If(cond) => {
                let then = build(tokens);
                let otherwise = if matches!(tokens.peek(), Some(Token::Else)) {
                    tokens.next();
                    build(tokens)
                } else {
                    Vec::new()
                };
                tokens.next(); // endif
                nodes.push(Node::If(cond, then, otherwise));
            }
            Token::For(key, value, collection) => {
                let body = build(tokens);
                tokens.next(); // endfor
                nodes.push(Node::For(key, value, collection, body));
            }
            Token::Else | Token::EndIf | Token::EndFor => {}
        }
    }
    nodes
}

impl Evaluator<'_> {
    /// Renders a template's elements; `indent` is a `<<-` heredoc's stripped indentation.
    pub(super) fn template<'a>(
        &mut self,
        elements: impl Iterator<Item = &'a Element>,
        indent: Option<usize>,
    ) -> Result<Value, EvalError> {
        let mut tokens = Vec::new();
        flatten(elements, 0, &mut tokens);
        if let Some(indent) = indent {
            undo_top_level_dedent(&mut tokens, indent);
        }
        // HCL's scanner gives each line of literal text its own token.
        let mut lines = Vec::with_capacity(tokens.len());
        for (token, marker, depth) in tokens {
            match token {
                Token::Literal(text) => lines.extend(
                    text.split_inclusive('\n')
                        .map(|l| (Token::Literal(l.to_owned()), Strip::None, depth)),
                ),
                other => lines.push((other, marker, depth)),
            }
        }
        strip(&mut lines);
        let mut tokens: Vec<Token<'_>> = lines.into_iter().map(|(t, _, _)| t).collect();
        if indent.is_some() {
            dedent(&mut tokens);
        }
        let mut stream = tokens.into_iter().peekable();
        let nodes = build(&mut stream);
        let mut sensitive = false;
        let rendered = self.render(&nodes, &mut sensitive)?;
        let value = match rendered {
            Rendered::Text(s) => Value::String(s),
            Rendered::Unknown => Value::Unknown,
        };
        Ok(value.mark_if(sensitive))
    }

    fn render(&mut self, nodes: &[Node<'_>], sensitive: &mut bool) -> Result<Rendered, EvalError> {
        let mut out = String::new();
        let mut unknown = false;
        for node in nodes {
            match node {
                Node::Literal(s) => out.push_str(s),
                Node::Interpolation(e) => {
                    let v = self.eval(e)?;
                    *sensitive |= v.contains_sensitive();
                    match v.unmark().0 {
                        Value::Unknown => unknown = true,
                        Value::String(s) => out.push_str(s),
                        Value::Number(n) => out.push_str(&n.to_string()),
                        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                        Value::Null => {
                            return Err(EvalError::new(
                                span(*e),
                                "Invalid template interpolation value",
                                "The expression result is null. Cannot include a null value in a string template.",
                            ));
                        }
                        other => {
                            return Err(EvalError::new(
                                span(*e),
                                "Invalid template interpolation value",
                                format!(
                                    "Cannot include the given value in a string template: string required, but this is {}.",
                                    crate::lang::friendly_type_name(other)
                                ),
                            ));
                        }
                    }
                }
                Node::If(cond, then, otherwise) => {
                    let c = self.eval(cond)?;
                    *sensitive |= c.contains_sensitive();
                    if c.is_unknown() {
                        unknown = true;
                        continue;
                    }
                    let chosen = match c.unmark().0 {
                        Value::Bool(b) => *b,
                        Value::String(s) if s == "true" || s == "false" => s == "true",
                        other => {
                            return Err(EvalError::new(
                                span(*cond),
                                "Invalid template if condition",
                                format!(
                                    "The result of the condition expression must be bool, but this is {}.",
                                    crate::lang::friendly_type_name(other)
                                ),
                            ));
                        }
                    };
                    match self.render(if chosen { then } else { otherwise }, sensitive)? {
                        Rendered::Text(s) => out.push_str(&s),
                        Rendered::Unknown => unknown = true,
                    }
                }
                Node::For(key, value, collection, body) => {
                    let c = self.eval(collection)?;
                    *sensitive |= c.contains_sensitive();
                    let items: Vec<(Value, Value)> = match c.unmark().0 {
                        Value::Unknown => {
                            unknown = true;
                            continue;
                        }
                        Value::List(items) => items
                            .iter()
                            .enumerate()
                            .map(|(i, v)| (Value::from(i as i64), v.clone()))
                            .collect(),
                        Value::Set(items) => items.iter().map(|v| (v.clone(), v.clone())).collect(),
                        Value::Object(map) => map
                            .iter()
                            .map(|(k, v)| (Value::from(k.as_str()), v.clone()))
                            .collect(),
                        other => {
                            return Err(EvalError::new(
                                span(*collection),
                                "Invalid template for directive",
                                format!(
                                    "The for directive can iterate only over a collection, but this is {}.",
                                    crate::lang::friendly_type_name(other)
                                ),
                            ));
                        }
                    };
                    for (k, v) in items {
                        let depth = self.bindings.len();
                        if let Some(key) = key {
                            self.bindings.push(((*key).to_owned(), k));
                        }
                        self.bindings.push(((*value).to_owned(), v));
                        let rendered = self.render(body, sensitive);
                        self.bindings.truncate(depth);
                        match rendered? {
                            Rendered::Text(s) => out.push_str(&s),
                            Rendered::Unknown => unknown = true,
                        }
                    }
                }
            }
        }
        Ok(if unknown {
            Rendered::Unknown
        } else {
            Rendered::Text(out)
        })
    }
}
