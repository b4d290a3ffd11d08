# expect: 2:20: unexpected '360 x 480'; an input size is written HxW, height x width with a lower-case x and no spaces: 360x480
network tiny input 360 x 480
stage s1 = conv1_1 .. fc7 head score_pool3, score_pool4, score_fr
compute s1 when 1
output fuse(s1)
