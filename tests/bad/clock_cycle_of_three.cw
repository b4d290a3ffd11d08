# expect: 4:7: clock 'a' is defined in terms of itself (a → b → c → a)
network fcn8s
stage s1 = conv1_1 .. fc7 head score_pool3, score_pool4, score_fr
clock a = b and every 2
clock b = not c
clock c = a or every 3
compute s1 when a
output fuse(s1)
