//! Writes realistic RPPS extraction files (PS_LibreAcces_Personne_activite, rpps.md) at any
//! size, in the 2021 (52 columns) or current (56 columns) layout, with the quirks of the real
//! file: repeated IdNat, salaried staff without address, literal quotes, optional BOM, CRLF
//! and broken lines. Deterministic for a given seed.

use clap::Parser;
use clap::builder::TypedValueParser;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use trousseau::directory::rpps::header::{HEADER_56, split_fields};

#[derive(Debug, Parser)]
#[command(
    name = "trousseau-rpps-gen",
    about = "Writes a synthetic RPPS extraction file"
)]
struct Args {
    /// Data lines to write (the header is extra).
    #[arg(long, default_value_t = 1000)]
    lines: u64,
    /// 52 (2021) or 56 columns (current).
    #[arg(long, default_value_t = 56, value_parser = clap::builder::PossibleValuesParser::new(["52", "56"]).map(|s| s.parse::<usize>().unwrap_or(56)))]
    layout: usize,
    #[arg(long)]
    out: PathBuf,
    /// Start with a UTF-8 byte order mark.
    #[arg(long)]
    bom: bool,
    /// End lines with CRLF.
    #[arg(long)]
    crlf: bool,
    /// Break every K-th data line (wrong field count, bad IdNat, invalid UTF-8, in turn).
    #[arg(long, default_value_t = 0)]
    broken_every: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

const LAST: &[&str] = &[
    "MARTIN",
    "BERNARD",
    "THOMAS",
    "PETIT",
    "ROBERT",
    "RICHARD",
    "DURAND",
    "DUBOIS",
    "MOREAU",
    "LAURENT",
    "SIMON",
    "MICHEL",
    "LEFEBVRE",
    "LEROY",
    "ROUX",
    "DAVID",
    "BERTRAND",
    "MOREL",
    "FOURNIER",
    "GIRARD",
    "BONNET",
    "DUPONT",
    "LAMBERT",
    "FONTAINE",
    "ROUSSEAU",
    "VINCENT",
    "MULLER",
    "LEFÈVRE",
    "FAURE",
    "ANDRÉ",
    "MERCIER",
    "BLANC",
    "GUÉRIN",
    "BOYER",
    "GARNIER",
    "CHEVALIER",
    "FRANÇOIS",
    "LEGRAND",
    "GAUTHIER",
    "GARCIA",
    "PERRIN",
    "ROBIN",
    "CLÉMENT",
    "MORIN",
    "NICOLAS",
    "HENRY",
    "ROUSSEL",
    "MATHIEU",
    "GAUTIER",
    "MASSON",
    "N'DIAYE",
    "LE GALL",
    "D'ALMEIDA",
    "NGUYEN",
    "DUPRÉ-LATOUR",
    "SAINT-JUST",
    "O'NEILL",
    "BENOÎT",
];
const FIRST: &[&str] = &[
    "Jean",
    "Marie",
    "Pierre",
    "Nathalie",
    "Michel",
    "Isabelle",
    "Philippe",
    "Sylvie",
    "Alain",
    "Catherine",
    "Nicolas",
    "Françoise",
    "Christophe",
    "Sandrine",
    "Stéphane",
    "Valérie",
    "Laurent",
    "Christine",
    "Frédéric",
    "Céline",
    "Julien",
    "Aurélie",
    "Thomas",
    "Émilie",
    "Jean-Pierre",
    "Anne-Sophie",
    "Zoé",
    "Léa",
    "Chloé",
    "Noël",
    "Hélène",
    "Gaëlle",
    "Loïc",
];
const PROFESSIONS: &[(&str, &str, u32)] = &[
    ("10", "Médecin", 30),
    ("21", "Pharmacien", 10),
    ("40", "Chirurgien-Dentiste", 6),
    ("50", "Sage-Femme", 3),
    ("60", "Infirmier", 35),
    ("70", "Masseur-Kinésithérapeute", 9),
    ("80", "Pédicure-Podologue", 2),
    ("91", "Orthophoniste", 3),
    ("98", "Manipulateur ERM", 2),
];
const SPECIALTIES: &[(&str, &str)] = &[
    ("SM54", "Qualifié en Médecine Générale"),
    ("SM26", "Anesthésie-réanimation"),
    ("SM04", "Cardiologie et maladies vasculaires"),
    ("SM53", "Pédiatrie"),
    ("SM42", "Psychiatrie"),
];
const MODES: &[(&str, &str)] = &[("S", "Salarié"), ("L", "Libéral"), ("B", "Bénévole")];
const SECTORS: &[(&str, &str)] = &[
    ("SA01", "Etablissement public de santé"),
    ("SA07", "Cabinet individuel"),
    ("SA08", "Cabinet de groupe"),
    ("SA05", "Etablissement privé PSPH"),
    ("SA33", "Officine de pharmacie"),
];
const TOWNS: &[(&str, &str, &str)] = &[
    ("75013", "75113", "PARIS"),
    ("69003", "69383", "LYON"),
    ("13005", "13205", "MARSEILLE"),
    ("31059", "31555", "TOULOUSE"),
    ("33000", "33063", "BORDEAUX"),
    ("59000", "59350", "LILLE"),
    ("25300", "25462", "PONTARLIER"),
    ("97400", "97411", "SAINT-DENIS"),
];
const STREETS: &[&str] = &[
    "DE LA RÉPUBLIQUE",
    "VICTOR HUGO",
    "DU GÉNÉRAL DE GAULLE",
    "PASTEUR",
    "DES LILAS",
];

/// splitmix64: tiny, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// The Luhn check digit of `digits`.
fn luhn_digit(digits: &str) -> char {
    let mut sum = 0;
    for (i, c) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(c - b'0');
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    char::from(b'0' + ((10 - sum % 10) % 10) as u8)
}

fn main() -> ExitCode {
    let args = Args::parse();
    match generate(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", args.out.display());
            ExitCode::FAILURE
        }
    }
}

fn generate(args: &Args) -> std::io::Result<()> {
    let file = std::fs::File::create(&args.out)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let eol: &[u8] = if args.crlf { b"\r\n" } else { b"\n" };
    if args.bom {
        out.write_all(b"\xEF\xBB\xBF")?;
    }
    let header: Vec<&str> = split_fields(HEADER_56).take(args.layout).collect();
    out.write_all(header.join("|").as_bytes())?;
    out.write_all(b"|")?;
    out.write_all(eol)?;

    let mut rng = Rng(args.seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0x5DEE_CE66);
    let weights: u32 = PROFESSIONS.iter().map(|p| p.2).sum();
    let mut fields: Vec<String> = vec![String::new(); args.layout];
    let mut line = String::with_capacity(1024);
    let mut written = 0u64;
    let mut person = 0u64;
    while written < args.lines {
        person += 1;
        // ADELI for some paramedical professions, RPPS otherwise; increasing numbers keep the
        // file sorted by identifier, as the national one is.
        let adeli = rng.below(10) == 0;
        let (kind, id) = if adeli {
            let base = format!("{:02}{:06}", 1 + person % 95, person % 1_000_000);
            ("0", format!("{base}{}", luhn_digit(&base)))
        } else {
            let base = format!("1{:09}", person);
            ("8", format!("{base}{}", luhn_digit(&base)))
        };
        let idnat = format!("{kind}{id}");
        let mut last = (*rng.pick(LAST)).to_owned();
        if rng.below(500) == 0 {
            last.push_str(" \"DIT\" LE BRUN");
        }
        let first = *rng.pick(FIRST);
        let civility = if rng.below(2) == 0 {
            ("M", "Monsieur")
        } else {
            ("MME", "Madame")
        };
        let mut pick = rng.below(u64::from(weights)) as u32;
        let profession = PROFESSIONS
            .iter()
            .find(|p| {
                if pick < p.2 {
                    true
                } else {
                    pick -= p.2;
                    false
                }
            })
            .unwrap_or(&PROFESSIONS[0]);
        let activities = 1 + [0, 0, 0, 1, 1, 2, 3][rng.below(7) as usize];
        for _ in 0..activities {
            if written >= args.lines {
                break;
            }
            written += 1;
            for f in fields.iter_mut() {
                f.clear();
            }
            let set = |fields: &mut [String], i: usize, v: &str| {
                if let Some(f) = fields.get_mut(i) {
                    f.push_str(v);
                }
            };
            set(&mut fields, 0, kind);
            set(&mut fields, 1, &id);
            set(&mut fields, 2, &idnat);
            set(&mut fields, 5, civility.0);
            set(&mut fields, 6, civility.1);
            set(&mut fields, 7, &last);
            set(&mut fields, 8, first);
            set(&mut fields, 9, profession.0);
            set(&mut fields, 10, profession.1);
            set(&mut fields, 11, "C");
            set(&mut fields, 12, "Civil");
            if profession.0 == "10" {
                let s = rng.pick(SPECIALTIES);
                set(&mut fields, 13, "S");
                set(&mut fields, 14, "Spécialité ordinale");
                set(&mut fields, 15, s.0);
                set(&mut fields, 16, s.1);
            }
            let mode = rng.pick(MODES);
            set(&mut fields, 17, mode.0);
            set(&mut fields, 18, mode.1);
            let hospital = mode.0 == "S" && rng.below(3) > 0;
            let dept = 1 + rng.below(95);
            if hospital {
                let ej = format!("{dept:02}000{:04}", rng.below(10_000));
                let site = format!("{dept:02}001{:04}", rng.below(10_000));
                set(&mut fields, 21, &site);
                set(&mut fields, 22, &ej);
                set(&mut fields, 23, &format!("F{site}"));
                set(
                    &mut fields,
                    24,
                    &format!("CENTRE HOSPITALIER {}", rng.below(400)),
                );
                set(&mut fields, 44, &format!("{dept:02}"));
                set(&mut fields, 48, "SA01");
                set(&mut fields, 49, "Etablissement public de santé");
            } else {
                let siret = format!("{:014}", rng.below(100_000_000_000_000));
                let town = rng.pick(TOWNS);
                set(&mut fields, 19, &siret);
                set(&mut fields, 20, &siret[..9]);
                set(&mut fields, 23, &format!("C{siret}"));
                set(&mut fields, 24, &format!("CABINET {last}"));
                set(&mut fields, 28, &(1 + rng.below(120)).to_string());
                set(&mut fields, 30, "R");
                set(&mut fields, 31, "Rue");
                set(&mut fields, 32, rng.pick::<&str>(STREETS));
                set(&mut fields, 34, &format!("{} {}", town.0, town.2));
                set(&mut fields, 35, town.0);
                set(&mut fields, 36, town.1);
                set(&mut fields, 37, town.2);
                set(&mut fields, 44, &town.0[..2]);
                let sector = rng.pick(SECTORS);
                set(&mut fields, 48, sector.0);
                set(&mut fields, 49, sector.1);
            }
            set(&mut fields, 47, "ARS/ARS/ARS");
            if args.layout == 56 {
                set(&mut fields, 52, "FONC-01");
                set(&mut fields, 53, "Titulaire de cabinet");
                set(&mut fields, 54, "GENR01");
                set(
                    &mut fields,
                    55,
                    "Activité standard de soin ou de pharmacien",
                );
            }
            line.clear();
            for f in &fields {
                line.push_str(f);
                line.push('|');
            }
            let broken = args.broken_every > 0 && written.is_multiple_of(args.broken_every);
            if broken {
                match (written / args.broken_every) % 3 {
                    0 => {
                        line.truncate(line.len() - 1);
                        let cut = line.rfind('|').unwrap_or(0);
                        line.truncate(cut + 1);
                    }
                    1 => line = line.replacen(&format!("|{idnat}|"), "|9BROKEN|", 1),
                    _ => {}
                }
            }
            out.write_all(line.as_bytes())?;
            if broken && (written / args.broken_every) % 3 == 2 {
                out.write_all(b"\xC3(")?;
            }
            out.write_all(eol)?;
        }
    }
    out.flush()
}
