# expect: 2:21: input size 20000x500 is larger than 8192 pixels a side
network fcn8s input 20000x500
stage s1 = conv1_1 .. fc7 head score_pool3, score_pool4, score_fr
compute s1 when 1
output fuse(s1)
