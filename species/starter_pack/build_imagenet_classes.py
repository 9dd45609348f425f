"""Build imagenet_classes.csv for the RangeWatch starter pack.

Reads the ImageNet-1k class metadata shipped with timm (class order, WordNet
ids and lemmas) and joins it with the hand-reviewed CLASS_TAXON mapping below.
Classes that are not animals are absent from CLASS_TAXON and get an empty
scientific_name ("no animal").

Run:  .venv/bin/python species/starter_pack/build_imagenet_classes.py
"""
import csv
import os
from pathlib import Path

import timm

INFO = Path(timm.__file__).parent / "data" / "_info"
OUT = Path(__file__).with_name("imagenet_classes.csv")

DOG = "Canis familiaris"   # every domestic dog breed
CAT = "Felis catus"        # every domestic cat class

# class_index -> accepted scientific name of the taxon the class denotes.
# Species where the class is one species, otherwise the smallest genus,
# family, order, class or phylum that covers what the class means.
CLASS_TAXON = {
    0: "Tinca tinca", 1: "Carassius auratus", 2: "Carcharodon carcharias",
    3: "Galeocerdo cuvier", 4: "Sphyrnidae", 5: "Torpediniformes",
    6: "Myliobatiformes", 7: "Gallus gallus", 8: "Gallus gallus",
    9: "Struthio camelus", 10: "Fringilla montifringilla",
    11: "Carduelis carduelis", 12: "Haemorhous mexicanus", 13: "Junco",
    14: "Passerina cyanea", 15: "Turdus migratorius", 16: "Pycnonotidae",
    17: "Corvidae", 18: "Pica", 19: "Poecile", 20: "Cinclus",
    21: "Accipitridae", 22: "Haliaeetus leucocephalus", 23: "Accipitriformes",
    24: "Strix nebulosa", 25: "Salamandra salamandra",
    26: "Lissotriton vulgaris", 27: "Salamandridae",
    28: "Ambystoma maculatum", 29: "Ambystoma mexicanum",
    30: "Lithobates catesbeianus", 31: "Hylidae", 32: "Ascaphus truei",
    33: "Caretta caretta", 34: "Dermochelys coriacea", 35: "Kinosternidae",
    36: "Emydidae", 37: "Terrapene", 38: "Coleonyx", 39: "Iguana iguana",
    40: "Anolis carolinensis", 41: "Teiidae", 42: "Agamidae",
    43: "Chlamydosaurus kingii", 44: "Anguidae", 45: "Heloderma suspectum",
    46: "Lacerta viridis", 47: "Chamaeleo chamaeleon",
    48: "Varanus komodoensis", 49: "Crocodylus niloticus",
    50: "Alligator mississippiensis", 51: "Triceratops",
    52: "Carphophis amoenus", 53: "Diadophis punctatus", 54: "Heterodon",
    55: "Opheodrys", 56: "Lampropeltis", 57: "Thamnophis", 58: "Colubridae",
    59: "Oxybelis", 60: "Hypsiglena torquata", 61: "Boa constrictor",
    62: "Python sebae", 63: "Naja naja", 64: "Dendroaspis", 65: "Elapidae",
    66: "Cerastes cerastes", 67: "Crotalus adamanteus",
    68: "Crotalus cerastes", 69: "Trilobita", 70: "Opiliones",
    71: "Scorpiones", 72: "Argiope aurantia", 73: "Araneus cavaticus",
    74: "Araneus diadematus", 75: "Latrodectus mactans",
    76: "Theraphosidae", 77: "Lycosidae", 78: "Ixodida", 79: "Chilopoda",
    80: "Lyrurus tetrix", 81: "Lagopus", 82: "Bonasa umbellus",
    83: "Tympanuchus", 84: "Pavo cristatus", 85: "Galliformes",
    86: "Phasianidae", 87: "Psittacus erithacus", 88: "Psittacidae",
    89: "Cacatua galerita", 90: "Psittaculidae", 91: "Centropus",
    92: "Meropidae", 93: "Bucerotidae", 94: "Trochilidae", 95: "Galbulidae",
    96: "Ramphastidae", 97: "Anatidae", 98: "Mergus serrator",
    99: "Anatidae", 100: "Cygnus atratus", 101: "Elephantidae",
    102: "Tachyglossidae", 103: "Ornithorhynchus anatinus",
    104: "Macropodidae", 105: "Phascolarctos cinereus", 106: "Vombatidae",
    107: "Scyphozoa", 108: "Actiniaria", 109: "Scleractinia",
    110: "Platyhelminthes", 111: "Nematoda", 112: "Strombidae",
    113: "Gastropoda", 114: "Gastropoda", 115: "Nudibranchia",
    116: "Polyplacophora", 117: "Nautilus", 118: "Metacarcinus magister",
    119: "Cancer irroratus", 120: "Ocypodidae",
    121: "Paralithodes camtschaticus", 122: "Homarus americanus",
    123: "Palinuridae", 124: "Decapoda", 125: "Decapoda", 126: "Isopoda",
    127: "Ciconia ciconia", 128: "Ciconia nigra", 129: "Platalea",
    130: "Phoenicopteridae", 131: "Egretta caerulea", 132: "Ardea alba",
    133: "Ardeidae", 134: "Gruidae", 135: "Aramus guarauna",
    136: "Porphyrio porphyrio", 137: "Fulica americana", 138: "Otididae",
    139: "Arenaria interpres", 140: "Calidris alpina", 141: "Tringa totanus",
    142: "Limnodromus", 143: "Haematopus", 144: "Pelecanus",
    145: "Aptenodytes patagonicus", 146: "Diomedeidae",
    147: "Eschrichtius robustus", 148: "Orcinus orca", 149: "Dugong dugon",
    150: "Otariidae",
    # 151-268: dog breeds, filled in below
    269: "Canis lupus", 270: "Canis lupus", 271: "Canis rufus",
    272: "Canis latrans", 273: DOG, 274: "Cuon alpinus",
    275: "Lycaon pictus", 276: "Hyaenidae", 277: "Vulpes vulpes",
    278: "Vulpes macrotis", 279: "Vulpes lagopus",
    280: "Urocyon cinereoargenteus",
    281: CAT, 282: CAT, 283: CAT, 284: CAT, 285: CAT,
    286: "Puma concolor", 287: "Lynx", 288: "Panthera pardus",
    289: "Panthera uncia", 290: "Panthera onca", 291: "Panthera leo",
    292: "Panthera tigris", 293: "Acinonyx jubatus", 294: "Ursus arctos",
    295: "Ursus americanus", 296: "Ursus maritimus",
    297: "Melursus ursinus", 298: "Herpestidae", 299: "Suricata suricatta",
    300: "Cicindelidae", 301: "Coccinellidae", 302: "Carabidae",
    303: "Cerambycidae", 304: "Chrysomelidae", 305: "Scarabaeidae",
    306: "Scarabaeidae", 307: "Curculionidae", 308: "Diptera",
    309: "Apidae", 310: "Formicidae", 311: "Orthoptera", 312: "Gryllidae",
    313: "Phasmatodea", 314: "Blattodea", 315: "Mantodea",
    316: "Cicadidae", 317: "Cicadellidae", 318: "Neuroptera",
    319: "Odonata", 320: "Odonata", 321: "Nymphalidae", 322: "Nymphalidae",
    323: "Danaus plexippus", 324: "Pieris", 325: "Pieridae",
    326: "Lycaenidae", 327: "Asteroidea", 328: "Echinoidea",
    329: "Holothuroidea", 330: "Sylvilagus", 331: "Lepus",
    332: "Oryctolagus cuniculus", 333: "Cricetidae", 334: "Rodentia",
    335: "Sciurus niger", 336: "Marmota", 337: "Castor",
    338: "Cavia porcellus", 339: "Equus caballus", 340: "Equus",
    341: "Sus scrofa", 342: "Sus scrofa", 343: "Phacochoerus",
    344: "Hippopotamus amphibius", 345: "Bos taurus",
    346: "Bubalus bubalis", 347: "Bison", 348: "Ovis aries",
    349: "Ovis canadensis", 350: "Capra ibex", 351: "Alcelaphus",
    352: "Aepyceros melampus", 353: "Bovidae", 354: "Camelus dromedarius",
    355: "Lama glama", 356: "Mustela", 357: "Neogale vison",
    358: "Mustela putorius", 359: "Mustela nigripes", 360: "Mustelidae",
    361: "Mephitidae", 362: "Mustelidae", 363: "Cingulata",
    364: "Bradypus", 365: "Pongo", 366: "Gorilla", 367: "Pan troglodytes",
    368: "Hylobatidae", 369: "Symphalangus syndactylus",
    370: "Cercopithecus", 371: "Erythrocebus patas", 372: "Papio",
    373: "Macaca", 374: "Cercopithecidae", 375: "Colobus",
    376: "Nasalis larvatus", 377: "Callitrichidae", 378: "Cebidae",
    379: "Alouatta", 380: "Pitheciidae", 381: "Ateles", 382: "Saimiri",
    383: "Lemur catta", 384: "Indri indri", 385: "Elephas maximus",
    386: "Loxodonta africana", 387: "Ailurus fulgens",
    388: "Ailuropoda melanoleuca", 389: "Thyrsites atun",
    390: "Anguilliformes", 391: "Oncorhynchus kisutch",
    392: "Holacanthus tricolor", 393: "Amphiprion", 394: "Acipenseridae",
    395: "Lepisosteidae", 396: "Pterois", 397: "Tetraodontidae",
}
for _i in range(151, 269):
    CLASS_TAXON[_i] = DOG


def main():
    wnids = [l.strip() for l in open(INFO / "imagenet_synsets.txt") if l.strip()]
    assert len(wnids) == 1000, len(wnids)
    lemmas = {}
    for line in open(INFO / "imagenet_synset_to_lemma.txt", encoding="utf-8"):
        wnid, _, text = line.rstrip("\n").partition("\t")
        lemmas[wnid] = text
    with open(OUT, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["class_index", "wnid", "imagenet_label", "scientific_name"])
        for idx, wnid in enumerate(wnids):
            label = lemmas[wnid].split(",")[0].strip()
            w.writerow([idx, wnid, label, CLASS_TAXON.get(idx, "")])
    print(f"wrote {OUT} ({len(wnids)} rows, {len(CLASS_TAXON)} mapped)")


if __name__ == "__main__":
    main()
