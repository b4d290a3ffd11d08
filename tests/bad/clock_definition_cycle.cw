# expect: 4:7: clock 'a' is defined in terms of itself (a → b → a)
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
clock a = b or every 2
clock b = not a
compute s1 when a
output fuse(s1)
