//! Writes the demo's import files into `demo/`: a roster of 2,000 new students of lut and
//! lut's fee standards for its new term (2025-2026), as an office would upload them.
//!
//! `cargo run -p campuspay-documents --example demo_files` (from the repository root). The
//! rows are deterministic (the same every run); the files are committed as they come out.

use campuspay_documents::write_xlsx;

const SURNAMES: [&str; 24] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗", "高", "梁", "郑",
    "谢", "宋",
];
const GIVEN: [&str; 30] = [
    "子涵", "浩然", "欣怡", "宇轩", "梓萱", "俊杰", "雨桐", "博文", "思彤", "家豪", "诗涵", "明轩", "佳怡", "天佑", "可馨", "志强", "婷婷",
    "建华", "晓东", "雅琪", "文博", "若曦", "嘉懿", "一鸣", "晨曦", "少华", "海燕", "国栋", "丽娟", "振宇",
];
/// (院系, 专业, 层次, 学费 yuan): the majors of lut's continuing-education college.
const MAJORS: [(&str, &str, &str, &str); 6] = [
    ("继续教育学院", "小学教育", "本科(专科起点)", "3200"),
    ("继续教育学院", "学前教育", "本科(专科起点)", "3200"),
    ("继续教育学院", "机械设计制造及其自动化", "本科(专科起点)", "3600"),
    ("继续教育学院", "土木工程", "本科(专科起点)", "3600"),
    ("继续教育学院", "会计学", "专科", "2800"),
    ("继续教育学院", "工程造价", "专科", "2800"),
];
/// 甘肃省's prefecture codes, for the ID cards' first six digits.
const REGIONS: [&str; 6] = ["620102", "620103", "620104", "620402", "620502", "620702"];

/// GB 11643: the check character of the first 17 digits.
fn check_char(body: &str) -> char {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let sum: u32 = body.bytes().zip(W).map(|(d, w)| u32::from(d - b'0') * w).sum();
    C[(sum % 11) as usize]
}

/// A small deterministic generator (xorshift), so the files are the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn roster() -> Vec<Vec<String>> {
    let mut rng = Rng(0x2026_0901);
    (0..2000)
        .map(|i| {
            let (dept, major, level, _) = MAJORS[i % MAJORS.len()];
            let female = rng.next(2) == 0;
            let name = format!("{}{}", SURNAMES[rng.next(SURNAMES.len())], GIVEN[rng.next(GIVEN.len())]);
            let birth = format!("{}{:02}{:02}", 2000 + rng.next(7), 1 + rng.next(12), 1 + rng.next(28));
            // The 17th digit is odd for men and even for women (GB 11643).
            let seq = 100 + rng.next(400) * 2 + usize::from(!female);
            let body = format!("{}{birth}{seq:03}", REGIONS[rng.next(REGIONS.len())]);
            let card = format!("{body}{}", check_char(&body));
            let class = format!("2026级{}{}班", major.chars().take(2).collect::<String>(), 1 + (i / MAJORS.len()) % 4);
            vec![
                format!("2026{:06}", i + 1),
                name,
                (if female { "女" } else { "男" }).to_string(),
                card,
                dept.to_string(),
                major.to_string(),
                level.to_string(),
                "2026".to_string(),
                class,
                format!("139{:08}", 10_000_000 + i * 37),
                String::new(),
            ]
        })
        .collect()
}

fn standards() -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = MAJORS
        .iter()
        .map(|(dept, major, level, yuan)| ["学费", "2025-2026", "2026", dept, major, level, yuan].iter().map(|s| s.to_string()).collect())
        .collect();
    // Textbooks: one price for everyone, whatever the major.
    rows.push(["教材费", "2025-2026", "", "", "", "", "480.50"].iter().map(|s| s.to_string()).collect());
    rows
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all("demo")?;
    let head = ["学号", "姓名", "性别", "身份证号", "院系", "专业", "层次", "年级", "班级", "手机号", "邮箱"];
    std::fs::write("demo/lut-roster-2026.xlsx", write_xlsx("学生名单", &head, &roster())?)?;
    let head = ["收费项目", "收费期间", "年级", "院系", "专业", "层次", "金额"];
    std::fs::write("demo/lut-fee-standards-2025-2026.xlsx", write_xlsx("收费标准", &head, &standards())?)?;
    println!("wrote demo/lut-roster-2026.xlsx (2000 students) and demo/lut-fee-standards-2025-2026.xlsx");
    Ok(())
}
