//! The little XML CCB answers with (the 410408 query's page and the 外联平台's `<TX>`): flat
//! elements of text, some repeated (`QUERYORDER`, `LIST`). Read by element name, as the public
//! SDKs read them (`getElementValue`): the first element of that name, its text unescaped.

/// The text of the first `<name>…</name>` (or `""` for `<name/>`) in `xml`.
pub fn text(xml: &str, name: &str) -> Option<String> {
    element(xml, name).map(|(inner, _)| unescape(inner.trim()))
}

/// The inner text of the first element `name` and what follows it.
fn element<'a>(xml: &'a str, name: &str) -> Option<(&'a str, &'a str)> {
    let open = format!("<{name}");
    let mut from = 0;
    while let Some(i) = xml[from..].find(&open) {
        let start = from + i + open.len();
        let rest = &xml[start..];
        // `<NAME>`, `<NAME attr…>` or `<NAME/>`, not `<NAMEX>`.
        match rest.chars().next() {
            Some('>') => {
                let body = &rest[1..];
                let close = format!("</{name}>");
                let end = body.find(&close)?;
                return Some((&body[..end], &body[end + close.len()..]));
            }
            Some('/') if rest.starts_with("/>") => return Some(("", &rest[2..])),
            Some(c) if c.is_whitespace() => {
                let gt = rest.find('>')?;
                if rest[..gt].ends_with('/') {
                    return Some(("", &rest[gt + 1..]));
                }
                let body = &rest[gt + 1..];
                let close = format!("</{name}>");
                let end = body.find(&close)?;
                return Some((&body[..end], &body[end + close.len()..]));
            }
            _ => from = start,
        }
    }
    None
}

/// Every `<name>…</name>` block in `xml`, in order (their inner XML).
pub fn blocks<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some((inner, after)) = element(rest, name) {
        out.push(inner);
        rest = after;
    }
    out
}

/// The five predefined entities and numeric references; CDATA kept as is.
pub fn unescape(s: &str) -> String {
    if let Some(inner) = s.strip_prefix("<![CDATA[").and_then(|r| r.strip_suffix("]]>")) {
        return inner.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(end) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e => e
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| e.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => out.push(c),
            None => out.push_str(&tail[..=end]),
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Text for an element's content.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_elements_by_name_and_repeats() {
        let x = "<?xml version=\"1.0\"?><DOCUMENT><RETURN_CODE>000000</RETURN_CODE><RETURN_MSG/>\
                 <QUERYORDER><ORDERID>A1</ORDERID><STATUS>成功 &amp; 完成</STATUS></QUERYORDER>\
                 <QUERYORDER><ORDERID>A2</ORDERID></QUERYORDER></DOCUMENT>";
        assert_eq!(text(x, "RETURN_CODE").as_deref(), Some("000000"));
        assert_eq!(text(x, "RETURN_MSG").as_deref(), Some(""));
        assert_eq!(text(x, "RETURN").as_deref(), None, "a prefix of a name is not the name");
        let orders = blocks(x, "QUERYORDER");
        assert_eq!(orders.len(), 2);
        assert_eq!(text(orders[0], "STATUS").as_deref(), Some("成功 & 完成"));
        assert_eq!(text(orders[1], "ORDERID").as_deref(), Some("A2"));
        assert_eq!(unescape("&#x4e2d;&#25991;&lt;"), "中文<");
    }
}
