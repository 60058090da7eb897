//! The charting library, vendored into the binary (see `assets/README.md`
//! for versions, licences and how to refresh them), and the few lines that
//! render the page's charts with it.

const VEGA: &str = include_str!("../assets/vega.min.js");
const VEGA_LITE: &str = include_str!("../assets/vega-lite.min.js");
const VEGA_EMBED: &str = include_str!("../assets/vega-embed.min.js");

/// Renders every `.chart` element from the specifications in
/// `#chart-specs`, then marks the page `data-charts="rendered"` (or
/// `"failed"`, with the error on the console), so a browser test knows
/// when to look.
const RENDER: &str = r#"
(function () {
  var specs = JSON.parse(document.getElementById("chart-specs").textContent);
  var charts = Array.prototype.slice.call(document.querySelectorAll(".chart"));
  Promise.all(charts.map(function (el) {
    return vegaEmbed(el, specs[el.dataset.chart], {actions: false, renderer: "svg"});
  })).then(function () {
    document.documentElement.dataset.charts = "rendered";
  }, function (error) {
    console.error("seglake report: a chart failed to render: " + error);
    document.documentElement.dataset.charts = "failed";
  });
})();
"#;

/// The `<script>` elements the page ends with.
pub fn scripts() -> String {
    [VEGA, VEGA_LITE, VEGA_EMBED, RENDER]
        .iter()
        .map(|js| format!("<script>{}</script>\n", script_safe(js)))
        .collect()
}

/// JavaScript made safe to sit inside `<script>`: the HTML parser ends a
/// script at `</script` whatever the JavaScript means by it. In these files
/// it could only occur inside a string or regular expression, where `<\/`
/// means the same. (`<!--` would need more care; the vendored files hold
/// none, which a test checks, so a refresh that brings one fails there.)
fn script_safe(js: &str) -> String {
    js.replace("</script", "<\\/script")
        .replace("</SCRIPT", "<\\/SCRIPT")
}

/// JSON made safe to sit inside `<script type="application/json">`: `<`
/// occurs only inside JSON strings, where `\u003c` is the same character.
pub fn json_safe(json: &str) -> String {
    json.replace('<', "\\u003c")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendored_scripts_cannot_end_their_script_element() {
        let all = scripts().to_lowercase();
        let opening = all.matches("<script>").count();
        let closing = all.matches("</script").count();
        assert_eq!(opening, 4);
        assert_eq!(closing, 4, "a vendored file closes its own <script>");
        assert!(!all.contains("<!--"));
    }

    #[test]
    fn json_keeps_its_meaning() {
        let text = r#"{"a":"</script><!--"}"#;
        let safe = json_safe(text);
        assert!(!safe.contains('<'));
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["a"], "</script><!--");
    }
}
