# expect: 4:7: clock 'me' is defined in terms of itself (me → me)
network fcn8s
stage s1 = conv1_1 .. fc7 head score_pool3, score_pool4, score_fr
clock me = me or every 2
compute s1 when me
output fuse(s1)
