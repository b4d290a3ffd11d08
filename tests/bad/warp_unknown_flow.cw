# expect: 8:40: unknown flow method 'dis_fsat' (known: dis, dis_ultrafast, dis_medium, codec)
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7 head score_fr
compute s1 when 1
compute s2 when 1
compute s3 when every 4 else warp(flow=dis_fsat)
output fuse(s1, s2, s3)
