"""SMS reply templates in five languages, each fitting one GSM-7 segment."""

from __future__ import annotations

__all__ = ["LANGUAGES", "TEMPLATES", "WORST_CASE", "format_naira", "render"]

# English, Nigerian Pidgin, Yoruba, Hausa, Igbo. Yoruba, Hausa and Igbo are written
# without tone marks or hooked letters, as most people text them, so every reply
# stays in GSM-7 (160 characters a segment instead of 70). Naira is "N": ₦ is not
# GSM-7. Names never appear in replies: they are long and often not GSM-7.
LANGUAGES: tuple[str, ...] = ("en", "pcm", "yo", "ha", "ig")

# The longest value each placeholder can take; tests render every template with them.
WORST_CASE: dict[str, str] = {
    "code": "KQ7XW2MH",
    "balance": "N10,000,000.00",  # the outstanding-credit cap, with kobo
    "command": "CASHOUT",
    "amount": "N10,000,000.00",
    "kg": "9,999.999",
    "ref": "RCP-KQ7XW2MH",
    "date": "31 Dec",
    "day": "Wed 30 Sep",
    "window": "10:30-12:30",
    "count": "999",
    "link": "https://recoop.example.org/collector?round=123456",
    "weekday": "Wednesday",
    # log_problem: the longest problem text the service ever fills in
    "problem": "no rate is set for SACHET on that date",
}

TEMPLATES: dict[str, dict[str, str]] = {
    "welcome": {
        "en": (
            "Welcome to Recoop! When your bottles, cans or sachets are ready, text "
            "PICKUP and we send your pickup code. BAL for balance, HELP for menu."
        ),
        "pcm": (
            "Welcome to Recoop! When your bottles, cans or sachets don ready, text "
            "PICKUP and we go send your pickup code. BAL for balance, HELP for "
            "menu."
        ),
        "yo": (
            "E kaabo si Recoop! Ti igo, agolo tabi ora yin ba ti setan, e fi PICKUP "
            "ranse, a o fi koodu pickup yin ranse. BAL fun owo, HELP fun iranlowo."
        ),
        "ha": (
            "Barka da zuwa Recoop! Idan kwalabe, gwangwani ko leda sun shirya, tura "
            "PICKUP, za mu aiko maka lambar pickup. BAL don kudi, HELP don taimako."
        ),
        "ig": (
            "Nnoo na Recoop! Mgbe karama, kom ma obu nylon gi di njikere, ziga "
            "PICKUP, anyi ga-eziga koodu pickup gi. BAL maka ego, HELP maka "
            "enyemaka."
        ),
    },
    "address_updated": {
        "en": (
            "Thank you: we have your new address. Text PICKUP for a collection; "
            "we will text you the day and time."
        ),
        "pcm": (
            "Thank you, we don get your new address. Text PICKUP make we come "
            "carry; we go text you the day and time."
        ),
        "yo": (
            "E se, a ti gba adiresi tuntun yin. E fi PICKUP ranse ki a wa gbe; "
            "a o fi ojo ati akoko ranse si yin."
        ),
        "ha": (
            "Na gode, mun karbi sabon adireshinka. Tura PICKUP mu zo mu dauka; "
            "za mu tura maka rana da lokaci."
        ),
        "ig": (
            "Daalu, anyi enwetala adreesi ohuru gi. Ziga PICKUP ka anyi bia buru; "
            "anyi ga-eziga gi ubochi na oge."
        ),
    },
    "already_joined": {
        "en": (
            "You are already registered with Recoop. Text PICKUP for a collection, "
            "BAL for your balance, HELP for the menu."
        ),
        "pcm": (
            "You don already join Recoop. Text PICKUP make we come carry, BAL to "
            "see your money, HELP for menu."
        ),
        "yo": (
            "E ti wa ninu Recoop tele. E fi PICKUP ranse ki a wa gbe, BAL fun owo "
            "yin, HELP fun iranlowo."
        ),
        "ha": (
            "Ka riga ka shiga Recoop. Tura PICKUP mu zo mu dauka, BAL don kudinka, "
            "HELP don taimako."
        ),
        "ig": (
            "I banyelari na Recoop. Ziga PICKUP ka anyi bia buru ya, BAL maka ego "
            "gi, HELP maka enyemaka."
        ),
    },
    "join_first": {
        "en": (
            "Welcome to Recoop! To register, text JOIN your name, street or "
            "landmark. E.g. JOIN Ada, 12 Ojo Road Yaba"
        ),
        "pcm": (
            "Welcome to Recoop! To join, text JOIN your name, street or landmark. "
            "E.g. JOIN Ada, 12 Ojo Road Yaba"
        ),
        "yo": (
            "E kaabo si Recoop! Lati darapo, e fi JOIN oruko yin, opopona tabi ami "
            "ile ranse. Apeere: JOIN Ada, 12 Ojo Road Yaba"
        ),
        "ha": (
            "Barka da zuwa Recoop! Don shiga, tura JOIN sunanka, titi ko sanannen "
            "wuri. Misali: JOIN Ada, 12 Ojo Road Yaba"
        ),
        "ig": (
            "Nnoo na Recoop! Iji banye, ziga JOIN aha gi, okporo uzo ma obu ebe a "
            "ma ama. Ihe atu: JOIN Ada, 12 Ojo Road Yaba"
        ),
    },
    "join_usage": {
        "en": (
            "To register, text JOIN your name, then your street or landmark. E.g. "
            "JOIN Ada Obi, 12 Herbert Macaulay Way Yaba"
        ),
        "pcm": (
            "To join, text JOIN your name, then your street or landmark. E.g. JOIN "
            "Ada Obi, 12 Herbert Macaulay Way Yaba"
        ),
        "yo": (
            "Lati darapo, e fi JOIN oruko yin, lehin naa opopona tabi ami ile "
            "ranse. Apeere: JOIN Ada Obi, 12 Herbert Macaulay Way Yaba"
        ),
        "ha": (
            "Don shiga, tura JOIN sunanka, sannan titi ko sanannen wuri. Misali: "
            "JOIN Ada Obi, 12 Herbert Macaulay Way Yaba"
        ),
        "ig": (
            "Iji banye, ziga JOIN aha gi, wee okporo uzo ma obu ebe a ma ama. Ihe "
            "atu: JOIN Ada Obi, 12 Herbert Macaulay Way Yaba"
        ),
    },
    "pickup_booked_no_place": {
        "en": (
            "Pickup booked, code {code}. But we cannot find your address: text "
            "JOIN Name, street or landmark or plus code."
        ),
        "pcm": (
            "We don book your pickup, code {code}. But we no fit find your "
            "address: text JOIN Name, street or landmark or plus code."
        ),
        "yo": (
            "A ti gba pickup yin, koodu {code}. Sugbon a ko ri adiresi yin: e fi "
            "JOIN Oruko, opopona tabi ami ibi ranse."
        ),
        "ha": (
            "An yi maka pickup, lamba {code}. Amma ba mu sami adireshinka ba: "
            "tura JOIN Suna, titi ko alama ko plus code."
        ),
        "ig": (
            "Anyi edebela pickup gi, koodu {code}. Mana anyi ahughi adreesi gi: "
            "ziga JOIN Aha, okporo uzo ma obu ihe ama."
        ),
    },
    "pickup_booked": {
        "en": (
            "Pickup booked. Your code is {code}: show it to the collector. We will "
            "text you the day and time. Text CANCEL to cancel."
        ),
        "pcm": (
            "We don book your pickup. Your code na {code}, show am to the "
            "collector. We go text you the day and time. Text CANCEL to cancel."
        ),
        "yo": (
            "A ti gba pickup yin. Koodu yin ni {code}, e fi han eni to ba wa gbe e. "
            "A o fi ojo ati akoko ranse. E fi CANCEL ranse lati fagile."
        ),
        "ha": (
            "An yi maka pickup. Lambarka ita ce {code}, nuna wa mai karba. Za mu "
            "aiko da rana da lokaci. Tura CANCEL don sokewa."
        ),
        "ig": (
            "Anyi edebela pickup gi. Koodu gi bu {code}, gosi onye na-anakota ya. "
            "Anyi ga-eziga ubochi na oge. Ziga CANCEL iji kagbuo."
        ),
    },
    "pickup_already_open": {
        "en": (
            "You already have a pickup booked, code {code}. We will text you the "
            "day and time. Text CANCEL to cancel it."
        ),
        "pcm": (
            "You don already book pickup, code {code}. We go text you the day and "
            "time. Text CANCEL if you no want am again."
        ),
        "yo": (
            "E ti ni pickup to n duro, koodu {code}. A o fi ojo ati akoko ranse. E "
            "fi CANCEL ranse ti e ba fe fagile."
        ),
        "ha": (
            "Kana da pickup a bude, lamba {code}. Za mu aiko da rana da lokaci. "
            "Tura CANCEL don sokewa."
        ),
        "ig": (
            "I nwere pickup emeghere, koodu {code}. Anyi ga-eziga ubochi na oge. "
            "Ziga CANCEL iji kagbuo ya."
        ),
    },
    "pickup_cancelled": {
        "en": "Pickup {code} cancelled. Text PICKUP when you are ready again.",
        "pcm": "We don cancel pickup {code}. Text PICKUP when you ready again.",
        "yo": "A ti fagile pickup {code}. E fi PICKUP ranse nigba ti e ba tun setan.",
        "ha": "An soke pickup {code}. Tura PICKUP idan ka sake shiryawa.",
        "ig": "Anyi akagbuola pickup {code}. Ziga PICKUP mgbe i dikwa njikere.",
    },
    "no_open_pickup": {
        "en": "You have no pickup booked. Text PICKUP to book one.",
        "pcm": "You no get any pickup wey dey open. Text PICKUP to book one.",
        "yo": "Ko si pickup kankan fun yin lowo. E fi PICKUP ranse lati beere.",
        "ha": "Ba ka da pickup a bude. Tura PICKUP don neman daya.",
        "ig": "I nweghi pickup emeghere. Ziga PICKUP iji debe otu.",
    },
    "balance": {
        "en": (
            "Your Recoop balance is {balance}. To use it text AIRTIME, CASHOUT or "
            "VOUCHER and an amount, e.g. AIRTIME 500"
        ),
        "pcm": (
            "Your Recoop balance na {balance}. To use am, text AIRTIME, CASHOUT or "
            "VOUCHER plus amount, e.g. AIRTIME 500"
        ),
        "yo": (
            "Owo yin ninu Recoop je {balance}. Lati na an, e fi AIRTIME, CASHOUT "
            "tabi VOUCHER ati iye ranse, apeere AIRTIME 500"
        ),
        "ha": (
            "Kudinka a Recoop: {balance}. Don amfani, tura AIRTIME, CASHOUT ko "
            "VOUCHER da adadi, misali AIRTIME 500"
        ),
        "ig": (
            "Ego gi na Recoop bu {balance}. Iji jiri ya, ziga AIRTIME, CASHOUT ma "
            "obu VOUCHER na onu ego, dika AIRTIME 500"
        ),
    },
    "lang_set": {
        "en": (
            "OK, we will text you in English. For another language text LANG PCM, "
            "YO, HA or IG."
        ),
        "pcm": (
            "No wahala, we go dey text you for Pidgin. To change, text LANG EN, YO, "
            "HA or IG."
        ),
        "yo": (
            "O dara, a o maa fi Yoruba ba yin soro. Lati yi pada, e fi LANG EN, "
            "PCM, HA tabi IG ranse."
        ),
        "ha": (
            "To, za mu rika aiko maka da Hausa. Don canzawa, tura LANG EN, PCM, YO "
            "ko IG."
        ),
        "ig": (
            "O di mma, anyi ga-eziga gi ozi n'Igbo. Iji gbanwee, ziga LANG EN, PCM, "
            "YO ma obu HA."
        ),
    },
    "lang_usage": {
        "en": (
            "Text LANG and a language: EN English, PCM Pidgin, YO Yoruba, HA Hausa, "
            "IG Igbo. E.g. LANG YO"
        ),
        "pcm": (
            "Text LANG plus language: EN English, PCM Pidgin, YO Yoruba, HA Hausa, "
            "IG Igbo. E.g. LANG PCM"
        ),
        "yo": (
            "E fi LANG ati ede ranse: EN Geesi, PCM Pidgin, YO Yoruba, HA Hausa, IG "
            "Igbo. Apeere: LANG YO"
        ),
        "ha": (
            "Tura LANG da harshe: EN Turanci, PCM Pidgin, YO Yarbanci, HA Hausa, IG "
            "Igbo. Misali: LANG HA"
        ),
        "ig": (
            "Ziga LANG na asusu: EN Bekee, PCM Pidgin, YO Yoruba, HA Hausa, IG "
            "Igbo. Ihe atu: LANG IG"
        ),
    },
    "menu": {
        "en": (
            "Recoop: PICKUP book a pickup, CANCEL cancel it, BAL balance, "
            "AIRTIME/CASHOUT/VOUCHER 500 redeem, WEEKLY MON every week, LANG EN/PCM/YO/HA/IG, "
            "STOP opt out"
        ),
        "pcm": (
            "Recoop: PICKUP make we come carry, CANCEL cancel am, BAL your money, "
            "AIRTIME/CASHOUT/VOUCHER 500 collect, WEEKLY MON every week, "
            "LANG EN/PCM/YO/HA/IG, STOP"
        ),
        "yo": (
            "Recoop: PICKUP ki a wa gbe, CANCEL lati fagile, BAL owo yin, "
            "AIRTIME/CASHOUT/VOUCHER 500 lati na, WEEKLY MON, LANG EN/PCM/YO/HA/IG, STOP"
        ),
        "ha": (
            "Recoop: PICKUP mu zo mu dauka, CANCEL soke, BAL kudinka, "
            "AIRTIME/CASHOUT/VOUCHER 500 don amfani, WEEKLY MON, LANG EN/PCM/YO/HA/IG, STOP"
        ),
        "ig": (
            "Recoop: PICKUP ka anyi bia buru, CANCEL kagbuo, BAL ego gi, "
            "AIRTIME/CASHOUT/VOUCHER 500 iji jiri ego, WEEKLY MON, LANG EN/PCM/YO/HA/IG, "
            "STOP"
        ),
    },
    "stopped": {
        "en": "You will get no more Recoop messages. Text START to come back.",
        "pcm": "You no go get Recoop message again. Text START if you wan come back.",
        "yo": "E ko ni gba ifiranse Recoop mo. E fi START ranse lati pada.",
        "ha": "Ba za ka sake samun sakon Recoop ba. Tura START don dawowa.",
        "ig": "I gaghi enweta ozi Recoop ozo. Ziga START iji laghachi.",
    },
    "started": {
        "en": (
            "Welcome back to Recoop! Text PICKUP to book a pickup or HELP for the menu."
        ),
        "pcm": (
            "Welcome back to Recoop! Text PICKUP make we come carry, or HELP for menu."
        ),
        "yo": (
            "E kaabo pada si Recoop! E fi PICKUP ranse ki a wa gbe, tabi HELP fun "
            "iranlowo."
        ),
        "ha": (
            "Barka da dawowa Recoop! Tura PICKUP mu zo mu dauka, ko HELP don taimako."
        ),
        "ig": (
            "Nnoo ozo na Recoop! Ziga PICKUP ka anyi bia buru ya, ma obu HELP maka "
            "enyemaka."
        ),
    },
    "usage_amount": {
        "en": "Text {command} and an amount in naira, e.g. {command} 500",
        "pcm": "Text {command} plus the amount for naira, e.g. {command} 500",
        "yo": "E fi {command} ati iye owo naira ranse, apeere {command} 500",
        "ha": "Tura {command} da adadin naira, misali {command} 500",
        "ig": "Ziga {command} na onu ego naira, dika {command} 500",
    },
    "not_available_yet": {
        "en": (
            "Sorry, this is not available yet. We will text you when it is. Text "
            "HELP for the menu."
        ),
        "pcm": (
            "Sorry, this one never ready. We go text you when e ready. Text HELP "
            "for menu."
        ),
        "yo": (
            "E ma binu, eyi ko tii si. A o so fun yin nigba ti o ba setan. E fi "
            "HELP ranse fun iranlowo."
        ),
        "ha": (
            "Yi hakuri, wannan bai samu ba tukuna. Za mu sanar da kai idan ya "
            "shirya. Tura HELP don taimako."
        ),
        "ig": (
            "Ndo, nke a adibeghi. Anyi ga-agwa gi mgbe o di njikere. Ziga HELP maka "
            "enyemaka."
        ),
    },
    "collector_only": {
        "en": "This command is for Recoop collectors only. Text HELP for the menu.",
        "pcm": "Na only Recoop collectors fit use this command. Text HELP for menu.",
        "yo": "Awon osise Recoop nikan lo le lo eyi. E fi HELP ranse fun iranlowo.",
        "ha": "Ma'aikatan Recoop kadai ke amfani da wannan. Tura HELP don taimako.",
        "ig": "Naani ndi oru Recoop nwere ike iji nke a. Ziga HELP maka enyemaka.",
    },
    "claim_usage": {
        "en": "Text CLAIM and the customer's voucher code, e.g. CLAIM KQ7XW2",
        "pcm": "Text CLAIM plus the customer voucher code, e.g. CLAIM KQ7XW2",
        "yo": "E fi CLAIM ati koodu voucher onibara ranse, apeere CLAIM KQ7XW2",
        "ha": "Tura CLAIM da lambar voucher na mai saye, misali CLAIM KQ7XW2",
        "ig": "Ziga CLAIM na koodu voucher onye na-azu ahia, dika CLAIM KQ7XW2",
    },
    "log_usage": {
        "en": (
            "Text LOG, the pickup code, then material and kg: LOG K7Q2 PET 2.5 ALU "
            "0.4. Materials: PET HDPE ALU SACHET GLASS"
        ),
        "pcm": (
            "Text LOG, the pickup code, then material and kg: LOG K7Q2 PET 2.5 ALU "
            "0.4. Materials: PET HDPE ALU SACHET GLASS"
        ),
        "yo": (
            "E fi LOG, koodu pickup, lehin naa iru ati kg ranse: LOG K7Q2 PET 2.5 "
            "ALU 0.4. Iru: PET HDPE ALU SACHET GLASS"
        ),
        "ha": (
            "Tura LOG, lambar pickup, sannan iri da kg: LOG K7Q2 PET 2.5 ALU 0.4. "
            "Iri: PET HDPE ALU SACHET GLASS"
        ),
        "ig": (
            "Ziga LOG, koodu pickup, wee udi na kg: LOG K7Q2 PET 2.5 ALU 0.4. Udi: "
            "PET HDPE ALU SACHET GLASS"
        ),
    },
    "miss_usage": {
        "en": "Text MISS, the pickup code and the reason, e.g. MISS K7Q2 not at home",
        "pcm": "Text MISS, the pickup code and why, e.g. MISS K7Q2 nobody dey house",
        "yo": "E fi MISS, koodu pickup ati idi re ranse, apeere MISS K7Q2 ko si nile",
        "ha": "Tura MISS, lambar pickup da dalili, misali MISS K7Q2 ba kowa a gida",
        "ig": (
            "Ziga MISS, koodu pickup na ihe kpatara ya, dika MISS K7Q2 onweghi onye "
            "no n'ulo"
        ),
    },
    "rate_limited": {
        "en": "You have sent too many messages. Please wait a while and try again.",
        "pcm": "You don send too many messages. Abeg wait small, then try again.",
        "yo": "E ti fi ifiranse to po ju ranse. E duro die, ki e to tun gbiyanju.",
        "ha": "Ka aiko sakonni da yawa. Ka dan jira, sannan ka sake gwadawa.",
        "ig": "I zigala ozi karia. Biko chere ntakiri, wee nwaa ozo.",
    },
    # --- money: receipts, redemptions, payouts, vouchers, disputes ---------------
    "receipt": {
        "en": "Recoop: you gave {kg} kg. {amount} added. Balance {balance}. Reply WRONG if this is not right.",
        "pcm": "Recoop: you give {kg} kg. We don add {amount}. Balance {balance}. Reply WRONG if e no correct.",
        "yo": "Recoop: e fun wa ni {kg} kg. A fi {amount} kun. Owo yin {balance}. E fesi WRONG ti ko ba to.",
        "ha": "Recoop: ka bayar da {kg} kg. An kara {amount}. Kudinka {balance}. Amsa WRONG idan ba daidai ba.",
        "ig": "Recoop: i nyere {kg} kg. Etinyere {amount}. Ego gi {balance}. Zaa WRONG ma o ziteghi.",
    },
    "receipt_capped": {
        "en": "Recoop: you gave {kg} kg, thank you. Credit is paused by our budget limit; we will add it later. Reply WRONG if the weight is wrong.",
        "pcm": "Recoop: you give {kg} kg, thank you. Credit don pause because of budget; we go add am later. Reply WRONG if weight no correct.",
        "yo": "Recoop: e fun wa ni {kg} kg, e se. Owo sisan duro nitori isuna; a o fi kun leyin. E fesi WRONG ti iwon ko ba to.",
        "ha": "Recoop: ka bayar da {kg} kg, na gode. An dakatar da biya saboda kasafi; za mu kara daga baya. Amsa WRONG idan nauyi ba daidai ba.",
        "ig": "Recoop: i nyere {kg} kg, daalu. Akwusiri ego n'ihi mmefu; anyi ga-etinye ya emesia. Zaa WRONG ma ibu ya ezighi ezi.",
    },
    "redeem_airtime": {
        "en": "Airtime {amount} is on its way to this number. Balance left {balance}.",
        "pcm": "Airtime {amount} dey come to this number. Balance wey remain {balance}.",
        "yo": "Airtime {amount} n bo si nomba yii. Owo to ku {balance}.",
        "ha": "Airtime {amount} yana zuwa wannan lamba. Sauran kudi {balance}.",
        "ig": "Airtime {amount} na-abia na nomba a. Ego foduru {balance}.",
    },
    "redeem_cashout": {
        "en": "{amount} is on its way to your mobile money wallet. Balance left {balance}.",
        "pcm": "{amount} dey go your mobile money wallet. Balance wey remain {balance}.",
        "yo": "{amount} n lo si apamowo mobile money yin. Owo to ku {balance}.",
        "ha": "{amount} yana zuwa walat din mobile money naka. Sauran kudi {balance}.",
        "ig": "{amount} na-aga na obere akpa mobile money gi. Ego foduru {balance}.",
    },
    "redeem_voucher": {
        "en": "Voucher {code}: {amount} at a Recoop partner shop until {date}. Show the code. Balance left {balance}.",
        "pcm": "Voucher {code}: {amount} for Recoop partner shop till {date}. Show the code. Balance wey remain {balance}.",
        "yo": "Voucher {code}: {amount} ni ile itaja Recoop titi {date}. E fi koodu han. Owo to ku {balance}.",
        "ha": "Voucher {code}: {amount} a shagon abokin Recoop har {date}. Nuna lambar. Sauran kudi {balance}.",
        "ig": "Voucher {code}: {amount} n'ulo ahia Recoop ruo {date}. Gosi koodu. Ego foduru {balance}.",
    },
    "insufficient": {
        "en": "Your balance is {balance}, not enough for that. Text BAL to check it.",
        "pcm": "Your balance na {balance}, e no reach. Text BAL to check am.",
        "yo": "Owo yin je {balance}, ko to fun iyen. E fi BAL ranse lati wo.",
        "ha": "Kudinka {balance} ne, bai isa ba. Tura BAL don dubawa.",
        "ig": "Ego gi bu {balance}, o zughi. Ziga BAL iji lelee ya.",
    },
    "below_minimum": {
        "en": "The smallest amount you can take is {amount}.",
        "pcm": "The smallest amount wey you fit collect na {amount}.",
        "yo": "Iye to kere ju ti e le gba ni {amount}.",
        "ha": "Mafi karancin adadin da za ka karba shine {amount}.",
        "ig": "Ego kacha nta i nwere ike iwere bu {amount}.",
    },
    "payouts_paused": {
        "en": "Payouts are paused for today. Your balance is safe; please try again tomorrow.",
        "pcm": "Payout don pause for today. Your money dey safe; abeg try again tomorrow.",
        "yo": "Sisan owo duro fun oni. Owo yin wa lailewu; e tun gbiyanju lola.",
        "ha": "An dakatar da biya na yau. Kudinka yana nan lafiya; sake gwadawa gobe.",
        "ig": "Akwusiri ikwu ugwo taa. Ego gi di mma; biko nwaa ozo echi.",
    },
    "payout_done": {
        "en": "Recoop: your {amount} has been paid. Ref {ref}.",
        "pcm": "Recoop: we don pay your {amount}. Ref {ref}.",
        "yo": "Recoop: a ti san {amount} yin. Ref {ref}.",
        "ha": "Recoop: an biya ka {amount}. Ref {ref}.",
        "ig": "Recoop: akwuola gi {amount}. Ref {ref}.",
    },
    "payout_failed": {
        "en": "Recoop: we could not pay your {amount}. It is back in your balance. Text AIRTIME and an amount to take airtime instead.",
        "pcm": "Recoop: we no fit pay your {amount}. E don return to your balance. Text AIRTIME plus amount to take airtime instead.",
        "yo": "Recoop: a ko le san {amount} yin. O ti pada si owo yin. E fi AIRTIME ati iye ranse lati gba airtime dipo.",
        "ha": "Recoop: ba mu iya biyan {amount} ba. Ya koma kudinka. Tura AIRTIME da adadi don karbar airtime maimakon haka.",
        "ig": "Recoop: anyi enweghi ike ikwu {amount}. O laghachiri n'ego gi. Ziga AIRTIME na onu ego iji were airtime kama.",
    },
    "claim_ok": {
        "en": "Voucher {code} is good: give goods worth {amount}. Recoop will settle you.",
        "pcm": "Voucher {code} correct: give goods wey reach {amount}. Recoop go settle you.",
        "yo": "Voucher {code} dara: e fun won ni oja to to {amount}. Recoop yoo san fun yin.",
        "ha": "Voucher {code} yana da kyau: ba da kaya na {amount}. Recoop za ta biya ka.",
        "ig": "Voucher {code} di mma: nye ngwa ahia ruru {amount}. Recoop ga-akwu gi.",
    },
    "claim_bad": {
        "en": "Voucher {code} is not valid or was already used. Do not give goods.",
        "pcm": "Voucher {code} no valid or dem don use am before. No give goods.",
        "yo": "Voucher {code} ko wulo tabi won ti lo tele. E ma fun won ni oja.",
        "ha": "Voucher {code} ba ya aiki ko an riga an yi amfani da shi. Kada ka ba da kaya.",
        "ig": "Voucher {code} adighi mma ma obu ejirila ya. Enyela ngwa ahia.",
    },
    "claim_not_shop": {
        "en": "Only Recoop partner shops can claim vouchers. Call Recoop to become one.",
        "pcm": "Na only Recoop partner shop fit claim voucher. Call Recoop to join.",
        "yo": "Ile itaja alabasepo Recoop nikan lo le gba voucher. E pe Recoop.",
        "ha": "Shagunan abokan Recoop kadai ke iya karbar voucher. Kira Recoop.",
        "ig": "Naani ulo ahia ndi otu Recoop nwere ike inara voucher. Kpoo Recoop.",
    },
    "voucher_used": {
        "en": "Recoop: your voucher {code} for {amount} was used. Thank you for recycling!",
        "pcm": "Recoop: dem don use your voucher {code} for {amount}. Thank you for recycling!",
        "yo": "Recoop: won ti lo voucher {code} yin fun {amount}. E se fun atunlo!",
        "ha": "Recoop: an yi amfani da voucher {code} na {amount}. Na gode da sake sarrafawa!",
        "ig": "Recoop: ejirila voucher {code} gi maka {amount}. Daalu maka imeghari!",
    },
    "dispute_received": {
        "en": "We have noted that your last receipt is wrong. An operator will check and text you.",
        "pcm": "We don note say your last receipt no correct. Operator go check am and text you.",
        "yo": "A ti ko sile pe iwe-eri yin to koja ko to. Osise kan yoo wo o, yoo si kan si yin.",
        "ha": "Mun lura cewa rasit dinka na karshe ba daidai ba ne. Ma'aikaci zai duba ya aiko maka.",
        "ig": "Anyi deturu na akwukwo ikpeazu gi ezighi ezi. Onye oru ga-elele ya ma zitere gi ozi.",
    },
    "no_receipt": {
        "en": "We have no weighing on your number to check yet.",
        "pcm": "We never weigh anything for your number yet.",
        "yo": "A ko tii won nkankan fun nomba yin.",
        "ha": "Ba mu auna komai a lambarka ba tukuna.",
        "ig": "Anyi atubeghi ihe obula maka nomba gi.",
    },
    "correction": {
        "en": "Recoop corrected your weighing: {amount} taken back. Balance {balance}.",
        "pcm": "Recoop don correct your weighing: we collect {amount} back. Balance {balance}.",
        "yo": "Recoop ti tun iwon yin se: a yo {amount} kuro. Owo yin {balance}.",
        "ha": "Recoop ta gyara aunawarka: an cire {amount}. Kudinka {balance}.",
        "ig": "Recoop meziri ibu gi: ewepuru {amount}. Ego gi {balance}.",
    },
    "logged": {
        "en": "Logged {code}: {kg} kg, {amount} credited.",
        "pcm": "Logged {code}: {kg} kg, {amount} don enter.",
        "yo": "A ti ko {code}: {kg} kg, {amount} ti wole.",
        "ha": "An rubuta {code}: {kg} kg, an saka {amount}.",
        "ig": "Edere {code}: {kg} kg, etinyere {amount}.",
    },
    "logged_capped": {
        "en": "Logged {code}: {kg} kg. Credit paused by the budget cap.",
        "pcm": "Logged {code}: {kg} kg. Credit don pause because of budget.",
        "yo": "A ti ko {code}: {kg} kg. Owo sisan duro nitori isuna.",
        "ha": "An rubuta {code}: {kg} kg. An dakatar da biya saboda kasafi.",
        "ig": "Edere {code}: {kg} kg. Akwusiri ego n'ihi mmefu.",
    },
    "log_problem": {
        "en": "Could not log {code}: {problem}",
        "pcm": "We no fit log {code}: {problem}",
        "yo": "A ko le ko {code}: {problem}",
        "ha": "Ba a iya rubuta {code} ba: {problem}",
        "ig": "Enweghi ike idenye {code}: {problem}",
    },
    "missed_ok": {
        "en": "Noted: pickup {code} marked missed.",
        "pcm": "We don note am: pickup {code} na missed.",
        "yo": "A ti ko sile: pickup {code} ko sele.",
        "ha": "An lura: ba a yi pickup {code} ba.",
        "ig": "Edeturu: pickup {code} emeghi.",
    },
    # --- planning: schedules, reminders, rounds, weekly pickups ------------------
    "pickup_scheduled": {
        "en": "Recoop pickup: {day}, between {window}. Code {code}. Keep your bottles, cans and sachets ready. CANCEL if you cannot.",
        "pcm": "Recoop pickup: {day}, between {window}. Code {code}. Make your bottles, cans and sachets dey ready. CANCEL if you no fit.",
        "yo": "Recoop pickup: {day}, laarin {window}. Koodu {code}. E pese igo, agolo ati ora yin sile. CANCEL ti e ko ba le.",
        "ha": "Recoop pickup: {day}, tsakanin {window}. Lamba {code}. Ka shirya kwalabe, gwangwani da leda. CANCEL idan ba za ka iya ba.",
        "ig": "Recoop pickup: {day}, n'etiti {window}. Koodu {code}. Kwadebe karama, kom na nylon gi. CANCEL ma i nweghi ike.",
    },
    "pickup_reminder": {
        "en": "Reminder: Recoop collects from you today between {window}. Code {code}.",
        "pcm": "Reminder: Recoop go come carry today between {window}. Code {code}.",
        "yo": "Iranti: Recoop yoo wa gbe loni laarin {window}. Koodu {code}.",
        "ha": "Tunatarwa: Recoop za ta zo ta dauka yau tsakanin {window}. Lamba {code}.",
        "ig": "Ncheta: Recoop ga-abia ibu ya taa n'etiti {window}. Koodu {code}.",
    },
    "collector_round_one": {
        "en": "Your Recoop round {day}: 1 stop. Open {link}",
        "pcm": "Your Recoop round {day}: 1 stop. Open {link}",
        "yo": "Irin Recoop yin {day}: iduro 1. Si {link}",
        "ha": "Zagayen Recoop naka {day}: tasha 1. Bude {link}",
        "ig": "Njem Recoop gi {day}: ebe 1. Mepee {link}",
    },
    "collector_round": {
        "en": "Your Recoop round {day}: {count} stops. Open {link}",
        "pcm": "Your Recoop round {day}: {count} stops. Open {link}",
        "yo": "Irin Recoop yin {day}: iduro {count}. Si {link}",
        "ha": "Zagayen Recoop naka {day}: tasha {count}. Bude {link}",
        "ig": "Njem Recoop gi {day}: ebe {count}. Mepee {link}",
    },
    "weekly_set": {
        "en": "Done: Recoop will collect from you every {weekday}. Text WEEKLY OFF to stop.",
        "pcm": "E don set: Recoop go dey come every {weekday}. Text WEEKLY OFF to stop am.",
        "yo": "O ti di: Recoop yoo maa wa gbe ni gbogbo {weekday}. E fi WEEKLY OFF ranse lati da duro.",
        "ha": "An gama: Recoop za ta rika zuwa kowace {weekday}. Tura WEEKLY OFF don dainawa.",
        "ig": "O dila: Recoop ga na-abia kwa {weekday}. Ziga WEEKLY OFF iji kwusi ya.",
    },
    "weekly_off": {
        "en": "Your weekly Recoop pickup is stopped. Text PICKUP when you have something.",
        "pcm": "We don stop your weekly pickup. Text PICKUP when you get something.",
        "yo": "A ti da pickup ose yin duro. E fi PICKUP ranse nigba ti e ba ni nkan.",
        "ha": "An dakatar da pickup na mako. Tura PICKUP idan kana da wani abu.",
        "ig": "Akwusiri pickup izu gi. Ziga PICKUP mgbe i nwere ihe.",
    },
    "weekly_usage": {
        "en": "Text WEEKLY and a day for a pickup every week, e.g. WEEKLY MON. WEEKLY OFF stops it.",
        "pcm": "Text WEEKLY plus day for pickup every week, e.g. WEEKLY MON. WEEKLY OFF go stop am.",
        "yo": "E fi WEEKLY ati ojo ranse fun pickup ose kookan, apeere WEEKLY MON. WEEKLY OFF da duro.",
        "ha": "Tura WEEKLY da rana don pickup kowane mako, misali WEEKLY MON. WEEKLY OFF na dainawa.",
        "ig": "Ziga WEEKLY na ubochi maka pickup kwa izu, dika WEEKLY MON. WEEKLY OFF ga-akwusi ya.",
    },
    "pickup_postponed": {
        "en": "Sorry, Recoop cannot come today as planned. We will text you a new day soon. Code {code}.",
        "pcm": "Sorry, Recoop no fit come today as we plan. We go text you new day soon. Code {code}.",
        "yo": "E ma binu, Recoop ko le wa loni bi a ti seto. A o fi ojo tuntun ranse laipe. Koodu {code}.",
        "ha": "Yi hakuri, Recoop ba za ta iya zuwa yau ba. Za mu aiko da sabuwar rana nan ba da jimawa ba. Lamba {code}.",
        "ig": "Ndo, Recoop agaghi abia taa dika e zubere. Anyi ga-ezitere gi ubochi ohuru n'oge na-adighi anya. Koodu {code}.",
    },
}


def render(key: str, lang: str, **values: str) -> str:
    """The reply `key` in `lang` with `values` filled in.

    Parameters
    ----------
    key
        A key of TEMPLATES; an unknown key raises KeyError.
    lang
        One of LANGUAGES; any other falls back to English.
    values
        The template's placeholders, e.g. ``code="K7Q2"``; a missing one raises
        KeyError.
    """
    by_language = TEMPLATES[key]
    return by_language.get(lang, by_language["en"]).format(**values)


def format_naira(kobo: int) -> str:
    """Kobo as GSM-7 naira text: 150000 -> "N1,500", 150050 -> "N1,500.50"."""
    sign = "-" if kobo < 0 else ""
    naira, rest = divmod(abs(kobo), 100)
    return f"{sign}N{naira:,}" + (f".{rest:02d}" if rest else "")
