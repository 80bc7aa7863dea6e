//! The packing slip: a PDF made on demand from the order and its ship-to, for the box. It names
//! the recipient, so it is opened like any PII (on the audit log first, the key's `Decrypt` in
//! CloudTrail) and never stored: made for the answer, then dropped.

use super::GatewayMessage;
use super::orders::{SHIP_TO_READERS, open_ship_to, seller_and_order, stored};
use super::{ApiRequest, ApiResponse, Problem, Services, authorize, only_query};
use crate::kernel::{Address, Pii};
use crate::orders::Order;
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

/// US Letter, in points; the margins.
const PAGE: (f32, f32) = (612.0, 792.0);
const LEFT: f32 = 54.0;
const TOP: f32 = 738.0;
const BOTTOM: f32 = 72.0;
const LINE: f32 = 15.0;
/// Characters of an item's title kept on its one line.
const TITLE_CHARS: usize = 58;

/// The text as the standard fonts' WinAnsiEncoding writes it: Latin-1 and the usual
/// typographic marks. Anything else prints as `?`: the standard fonts have no other glyphs
/// (a slip for an address in another script shows `?` where the label, bought from the
/// carrier, shows it whole).
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            ' '..='~' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '€' => 0x80,
            '‚' => 0x82,
            '„' => 0x84,
            '…' => 0x85,
            'Š' => 0x8a,
            'Œ' => 0x8c,
            'Ž' => 0x8e,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            'š' => 0x9a,
            'œ' => 0x9c,
            'ž' => 0x9e,
            'Ÿ' => 0x9f,
            _ => b'?',
        })
        .collect()
}

/// The SKU column's width, and the widest Helvetica glyph (`W`, 0.944 em) as the measure: a
/// SKU of up to 40 characters always fits.
const SKU_COLUMN: f32 = 145.0;

fn sku_size(sku: &str) -> f32 {
    let chars = sku.chars().count().max(1) as f32;
    (SKU_COLUMN / (chars * 0.944)).clamp(3.5, 10.0)
}

fn shortened(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// The ship-to as an address block: name, company, street lines, then city, region and postal
/// code on one line, then the country. The phone is left off: the slip travels in the box.
fn address_lines(a: &Address) -> Vec<String> {
    let part = |v: &Option<Pii<String>>| {
        v.as_ref()
            .map(|v| v.expose().trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let mut lines: Vec<String> = [
        &a.name,
        &a.company_name,
        &a.address_line1,
        &a.address_line2,
        &a.address_line3,
    ]
    .into_iter()
    .filter_map(part)
    .collect();
    let place: Vec<String> = [
        &a.city,
        &a.municipality,
        &a.district_or_county,
        &a.state_or_region,
        &a.postal_code,
    ]
    .into_iter()
    .filter_map(part)
    .collect();
    if !place.is_empty() {
        lines.push(place.join(", "));
    }
    lines.extend(part(&a.country_code));
    lines
}

/// One run of text: where it starts, its font and size, its WinAnsi bytes.
struct Run {
    x: f32,
    y: f32,
    font: &'static [u8],
    size: f32,
    bytes: Vec<u8>,
}

/// One page's text, top down.
struct PageText {
    runs: Vec<Run>,
}

impl PageText {
    fn new() -> Self {
        PageText { runs: Vec::new() }
    }

    fn text(&mut self, x: f32, y: f32, bold: bool, size: f32, text: &str) {
        let font: &'static [u8] = if bold { b"F2" } else { b"F1" };
        self.runs.push(Run {
            x,
            y,
            font,
            size,
            bytes: win_ansi(text),
        });
    }
}

/// The slip's PDF: the order, the ship-to and every line (SKU, quantity, title), page by page.
/// Without `ship_to` (the buyer restricted it) the slip says the label carries it.
pub fn packing_slip(order: &Order, ship_to: Option<&Address>) -> Vec<u8> {
    let mut pages: Vec<PageText> = Vec::new();
    let mut page = PageText::new();
    let mut y = TOP;
    page.text(LEFT, y, true, 18.0, "Packing slip");
    y -= 28.0;
    page.text(LEFT, y, false, 10.0, &format!("Order {}", order.order_id));
    y -= LINE;
    let day = |d: chrono::DateTime<chrono::Utc>| d.format("%Y-%m-%d").to_string();
    page.text(
        LEFT,
        y,
        false,
        10.0,
        &format!("Ordered {}", day(order.created_at)),
    );
    if let Some(ship_by) = order.ship_by {
        page.text(
            LEFT + 160.0,
            y,
            false,
            10.0,
            &format!("Ship by {}", day(ship_by)),
        );
    }
    y -= 2.0 * LINE;
    page.text(LEFT, y, true, 11.0, "Ship to");
    y -= LINE;
    let lines = match ship_to {
        Some(a) => address_lines(a),
        None => vec!["(on the shipping label)".to_owned()],
    };
    for line in lines {
        page.text(LEFT, y, false, 11.0, &shortened(&line, 80));
        y -= LINE;
    }
    y -= LINE;
    let header = |page: &mut PageText, y: f32| {
        page.text(LEFT, y, true, 10.0, "Qty");
        page.text(LEFT + 40.0, y, true, 10.0, "SKU");
        page.text(LEFT + 190.0, y, true, 10.0, "Item");
    };
    header(&mut page, y);
    y -= LINE;
    for line in &order.lines {
        if y < BOTTOM {
            pages.push(std::mem::replace(&mut page, PageText::new()));
            y = TOP;
            page.text(
                LEFT,
                y,
                false,
                10.0,
                &format!("Order {} (continued)", order.order_id),
            );
            y -= 2.0 * LINE;
            header(&mut page, y);
            y -= LINE;
        }
        page.text(LEFT, y, false, 10.0, &line.quantity_ordered.to_string());
        // A SKU is never cut (two may share a long prefix): its type shrinks to its column.
        let sku = line.sku.as_ref().map_or("-", |s| s.as_str());
        page.text(LEFT + 40.0, y, false, sku_size(sku), sku);
        let title = line.title.as_deref().unwrap_or("");
        page.text(LEFT + 190.0, y, false, 10.0, &shortened(title, TITLE_CHARS));
        y -= LINE;
    }
    pages.push(page);
    render(&pages)
}

fn render(pages: &[PageText]) -> Vec<u8> {
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    let first_page = 5;
    let page_ids: Vec<Ref> = (0..pages.len())
        .map(|i| Ref::new(first_page + 2 * i as i32))
        .collect();
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_ids.iter().copied())
        .count(pages.len() as i32);
    pdf.type1_font(regular)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    let count = pages.len();
    for (i, (text, id)) in pages.iter().zip(&page_ids).enumerate() {
        let contents = Ref::new(id.get() + 1);
        let mut page = pdf.page(*id);
        page.parent(tree)
            .media_box(Rect::new(0.0, 0.0, PAGE.0, PAGE.1))
            .contents(contents);
        let mut resources = page.resources();
        resources
            .fonts()
            .pair(Name(b"F1"), regular)
            .pair(Name(b"F2"), bold);
        resources.finish();
        page.finish();
        let mut content = Content::new();
        for run in &text.runs {
            content
                .begin_text()
                .set_font(Name(run.font), run.size)
                .next_line(run.x, run.y)
                .show(Str(&run.bytes))
                .end_text();
        }
        if count > 1 {
            let footer = format!("Page {} of {count}", i + 1);
            content
                .begin_text()
                .set_font(Name(b"F1"), 8.0)
                .next_line(LEFT, BOTTOM - 30.0)
                .show(Str(&win_ansi(&footer)))
                .end_text();
        }
        pdf.stream(contents, &content.finish());
    }
    pdf.finish()
}

/// The order's packing slip, made now from the order and its ship-to. Audited before the PII
/// key is used (purpose `packing-slip`), never stored.
#[utoipa::path(
    get,
    path = "/orders/{seller_id}/{order_id}/packing-slip",
    tag = "packing",
    params(
        ("seller_id" = String, Path, description = "The seller's Amazon merchant id"),
        ("order_id" = String, Path, description = "The Amazon order id"),
    ),
    responses(
        (status = 200, description = "The slip (US Letter; characters outside Latin-1 print as `?`)", content(("application/pdf"))),
        (status = 400, description = "A bad id, or an unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No verified caller: API Gateway's `{\"message\"}` for a missing or invalid token, problem+json when no verified caller reached the function", content((Problem = "application/problem+json"), (GatewayMessage = "application/json"))),
        (status = 403, description = "Not a packer or supervisor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The order's PII is no longer held (purged, deleted)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The read could not be put on record, or a store failed: nothing was opened", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn packing_slip_document(
    s: &Services<'_>,
    req: &ApiRequest,
    seller: &str,
    order: &str,
) -> Result<ApiResponse, Problem> {
    let caller = authorize(req, &SHIP_TO_READERS)?;
    only_query(req, &[])?;
    let (seller, order) = seller_and_order(seller, order)?;
    let stored = stored(s, &seller, &order).await?;
    // Restricted to the shipment: the slip goes without the address (the label carries it),
    // and nothing is opened for it.
    let ship_to = if stored.pii.shown_to_staff() {
        Some(open_ship_to(s, caller, "packing-slip", false, &stored).await?)
    } else {
        None
    };
    Ok(ApiResponse::bytes(
        "application/pdf",
        packing_slip(&stored.order, ship_to.as_ref()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(lines: usize) -> Order {
        let lines: Vec<serde_json::Value> = (0..lines)
            .map(|i| {
                serde_json::json!({
                    "order_item_id": format!("I{i}"), "sku": format!("SKU-{i}"), "asin": null,
                    "title": "A chair (oak) \\ with a very long name that goes on and on past its column",
                    "quantity_ordered": 2, "quantity_shipped": 0, "unit_price": null,
                })
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "seller_id": "A1SELLER", "order_id": "113-0000000-0000001", "marketplace_id": null,
            "status": "unshipped", "created_at": "2026-12-01T00:00:00Z",
            "last_updated_at": "2026-12-01T00:00:00Z", "ship_by": "2026-12-03T00:00:00Z",
            "deliver_by": null, "service_level": null, "programs": [], "packages": [],
            "lines": lines,
        }))
        .unwrap()
    }

    fn ship_to() -> Address {
        Address {
            name: Some(Pii::new("Jörg Müller".to_owned())),
            address_line1: Some(Pii::new("12 Élan Street".to_owned())),
            city: Some(Pii::new("Zürich".to_owned())),
            postal_code: Some(Pii::new("8001".to_owned())),
            country_code: Some(Pii::new("CH".to_owned())),
            phone: Some(Pii::new("+41 44 000 00 00".to_owned())),
            ..Address::default()
        }
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    /// Text beyond ASCII, as the writer puts it: a hex string of its WinAnsi bytes.
    fn hex(text: &str) -> Vec<u8> {
        let digits: String = win_ansi(text).iter().map(|b| format!("{b:02X}")).collect();
        format!("<{digits}>").into_bytes()
    }

    #[test]
    fn a_slip_names_the_order_its_lines_and_the_ship_to_but_not_the_phone() {
        let pdf = packing_slip(&order(3), Some(&ship_to()));
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(pdf.ends_with(b"%%EOF") || pdf.ends_with(b"%%EOF\n"));
        assert!(contains(&pdf, b"Order 113-0000000-0000001"));
        assert!(contains(&pdf, b"Ship by 2026-12-03"));
        assert!(contains(&pdf, b"SKU-2"));
        // Latin-1 as WinAnsi bytes; a title cut short with an ellipsis.
        assert!(contains(&pdf, &hex("Jörg Müller")));
        assert!(contains(&pdf, &hex("Zürich, 8001")));
        let title = "A chair (oak) \\ with a very long name that goes on and on past";
        assert!(contains(&pdf, &hex(&format!("{}…", &title[..57]))));
        assert!(!contains(&pdf, b"+41 44"));
        assert!(!contains(&pdf, b"Page 1 of"));
    }

    #[test]
    fn many_lines_run_onto_numbered_pages_and_other_scripts_print_as_question_marks() {
        let pdf = packing_slip(&order(100), Some(&ship_to()));
        assert!(contains(&pdf, b"/Count 3"));
        assert!(contains(&pdf, b"(Page 3 of 3)"));
        assert!(contains(&pdf, b"(SKU-99)"));
        assert!(contains(&pdf, b"(continued)"));
        assert_eq!(win_ansi("東京 – “Tokyo”"), b"?? \x96 \x93Tokyo\x94");
        // A SKU of Amazon's 40 characters is printed whole, in type that fits its column.
        let long = "W".repeat(40);
        assert!(sku_size(&long) * 0.944 * 40.0 <= SKU_COLUMN + 0.01);
        assert_eq!(sku_size("SKU-1"), 10.0);
    }
}
