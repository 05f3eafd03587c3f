"""Third-party names with no cue word (issue #26): casual chat as people write it, en in lower case.

Written for this test only: no name or sentence shares a string with tests/support/pii_probe.py,
tests/support/pii_probe_v2.py or the examples in the name recognizers' sources and resources
(tests/unit/test_scrub_names_v3.py checks the name overlap). Every name here is invented for the
sentence it is in. PROBES: (language, text, name) with ``name`` a substring of ``text``; the probe
counts as caught when one finding covers the whole name.
"""

EN = [
    "ugh i told bethany about the party and now everyone knows",
    "did you hear that brandon quit",
    "went bowling with tyler last night lol",
    "honestly vanessa is the only one who gets it",
    "i'm meeting up with kayla after class",
    "ok so derek texted me at 2am again",
    "lmao caleb fell asleep in the lecture",
    "gonna ask natalie if she wants to carpool",
    "can't believe rebecca forgot my birthday",
    "ran into trevor at the gym today",
    "samantha keeps sending me memes at work",
    "we're getting dinner w/ gabriel tonight",
    "apparently melissa and her bf broke up",
    "so heather wants to do a road trip in june",
    "no clue why dominic is mad at me",
    "lol ask victor, he knows everything about cars",
    "bought a gift for lauren but idk if she'll like it",
    "the wifi died so i borrowed chloe's hotspot",
    "stayed up till 3 talking to isaac",
    "haven't seen rachel since graduation",
    "omg monica just got engaged",
    "i owe travis like 40 bucks",
    "hailey's dog bit me lmao",
    "ok i'll tell megan you said hi",
    "just got back from helping spencer move",
    "whitney thinks i should dye my hair",
    "idk if shawn is coming tonight",
    "miranda lent me her notes for bio",
    "we should invite colin to the bbq",
    "why does kyle always show up late",
    "leah and i are doing a pottery class",
    "waiting for brittany to finish her shift",
]
EN_NAMES = ["bethany", "brandon", "tyler", "vanessa", "kayla", "derek", "caleb", "natalie", "rebecca", "trevor",
            "samantha", "gabriel", "melissa", "heather", "dominic", "victor", "lauren", "chloe", "isaac", "rachel",
            "monica", "travis", "hailey", "megan", "spencer", "whitney", "shawn", "miranda", "colin", "kyle",
            "leah", "brittany"]

ZH = [
    ("昨天在超市碰到韩雪梅了", "韩雪梅"),
    ("刚才看见宋志强在楼下抽烟", "宋志强"),
    ("你还记得曹文静吗", "曹文静"),
    ("听说彭晓东辞职了", "彭晓东"),
    ("周五要去机场接蒋丽娜", "蒋丽娜"),
    ("今天又被卢建国批评了", "卢建国"),
    ("好想念潘小雨啊", "潘小雨"),
    ("上周末请唐诗涵吃了火锅", "唐诗涵"),
    ("路上遇到袁志伟，他胖了好多", "袁志伟"),
    ("借了三百块给蔡明辉", "蔡明辉"),
    ("崔佳琪考上研究生了", "崔佳琪"),
    ("梁嘉欣昨晚发朋友圈了", "梁嘉欣"),
    ("记得提醒一下郭子豪明天交作业", "郭子豪"),
    ("好久没联系冯晓燕了", "冯晓燕"),
    ("姚俊峰的车被拖走了", "姚俊峰"),
    ("今天碰见谭雅琴，她剪短发了", "谭雅琴"),
    ("快去催催钟立新，他还没到", "钟立新"),
    ("超喜欢汪梦瑶写的字", "汪梦瑶"),
    ("这事儿得请教廖国庆", "廖国庆"),
    ("昨晚梦到林婉婷了", "林婉婷"),
    ("范志豪把我拉黑了", "范志豪"),
    ("那天在地铁上看到邹雨欣了", "邹雨欣"),
    ("听苏振华讲了一晚上的笑话", "苏振华"),
    ("金海波又迟到了", "金海波"),
    ("刚把作业发给薛丽娟了", "薛丽娟"),
    ("姜浩宇请我喝奶茶", "姜浩宇"),
    ("刚刚在食堂撞见贺子轩", "贺子轩"),
    ("朱晓琳送了一本书过来", "朱晓琳"),
    ("明天要陪丁美玲逛街", "丁美玲"),
    ("真不太想理魏建军", "魏建军"),
    ("何思琪今年考驾照了吗", "何思琪"),
    ("大家都在等熊志刚", "熊志刚"),
]

PROBES = [("en", text, name) for text, name in zip(EN, EN_NAMES, strict=True)] + [("zh", t, n) for t, n in ZH]
